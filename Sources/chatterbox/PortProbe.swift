import Foundation

/// Checks, before the server creates anything (data directory, database, certificate
/// authority), that it will be able to listen: a busy port must fail the start cleanly,
/// not after files were made for a server that never ran.
///
/// Binds each address getaddrinfo gives for the host, as the server will (SO_REUSEADDR,
/// IPv6 only on IPv6 sockets), and closes at once.
enum PortProbe {
    /// `nil` when every address can be bound, otherwise why not ("Address already in use",
    /// "Permission denied"); other failures are left for the server to report.
    static func problem(host: String, port: Int) -> String? {
        guard port != 0 else { return nil }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var trimmed = host
        if trimmed.hasPrefix("["), trimmed.hasSuffix("]") { trimmed = String(trimmed.dropFirst().dropLast()) }
        var results: UnsafeMutablePointer<addrinfo>?
        // Resolution problems are the server's own to report.
        guard getaddrinfo(trimmed.isEmpty ? nil : trimmed, String(port), &hints, &results) == 0, let first = results else { return nil }
        defer { freeaddrinfo(first) }
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ai_next }
            let descriptor = socket(entry.pointee.ai_family, entry.pointee.ai_socktype, entry.pointee.ai_protocol)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var yes: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            if entry.pointee.ai_family == AF_INET6 {
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &yes, socklen_t(MemoryLayout<Int32>.size))
            }
            if bind(descriptor, entry.pointee.ai_addr, entry.pointee.ai_addrlen) != 0, errno == EADDRINUSE || errno == EACCES {
                return String(cString: strerror(errno))
            }
        }
        return nil
    }
}
