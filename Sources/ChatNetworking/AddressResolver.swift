#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import NIOCore

/// getaddrinfo could not resolve a host.
public struct AddressResolutionError: Error, Sendable, CustomStringConvertible {
    public var host: String
    public var reason: String

    public var description: String {
        "Cannot resolve \(host.isEmpty ? "the local addresses" : "'\(host)'"): \(reason)"
    }
}

/// Turns a host and port into socket addresses with getaddrinfo, in the order it returns them.
public enum AddressResolver {
    /// Addresses to listen on. An empty `host` means every local address (IPv4 and IPv6
    /// wildcards); a name or literal binds what getaddrinfo returns for it.
    public static func bindAddresses(host: String, port: Int) throws -> [SocketAddress] {
        try resolve(host: host.isEmpty ? nil : host, port: port, passive: true)
    }

    /// Addresses to try, in order, when connecting to `host`.
    public static func connectAddresses(host: String, port: Int) throws -> [SocketAddress] {
        try resolve(host: host, port: port, passive: false)
    }

    private static func resolve(host: String?, port: Int, passive: Bool) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG
        var trimmedHost = host
        if let name = host, name.hasPrefix("["), name.hasSuffix("]") {
            trimmedHost = String(name.dropFirst().dropLast())
        }
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(trimmedHost, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw AddressResolutionError(host: host ?? "", reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }

        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            defer { cursor = info.pointee.ai_next }
            guard let raw = info.pointee.ai_addr else { continue }
            let address: SocketAddress
            switch info.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) }
            default:
                continue
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        guard !addresses.isEmpty else {
            throw AddressResolutionError(host: host ?? "", reason: "no IPv4 or IPv6 address")
        }
        return addresses
    }
}
