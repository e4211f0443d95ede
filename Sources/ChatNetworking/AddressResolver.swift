#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
public import NIOCore
import Synchronization

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

    /// Addresses to try when connecting to `host`, looked up on a thread of its own so that a
    /// slow name service holds up no task: after `timeout` without an answer the lookup is
    /// given up (the thread finishes on its own), as it is when the calling task is cancelled.
    public static func connectAddresses(host: String, port: Int, timeout: Duration) async throws -> [SocketAddress] {
        // An address literal needs no name service, nor a thread.
        let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let address = try? SocketAddress(ipAddress: literal, port: port) { return [address] }
        let lookup = PendingLookup()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[SocketAddress], any Error>) in
                lookup.start(continuation)
                let thread = Thread {
                    lookup.finish(Result { try connectAddresses(host: host, port: port) })
                }
                thread.name = "chatterbox-getaddrinfo"
                thread.start()
                lookup.setTimer(Task {
                    try? await Task.sleep(for: timeout)
                    guard !Task.isCancelled else { return }
                    lookup.finish(.failure(AddressResolutionError(host: host, reason: "no answer from the name service within \(Self.seconds(timeout))")))
                })
            }
        } onCancel: {
            lookup.finish(.failure(CancellationError()))
        }
    }

    /// "10 s", "0.5 s".
    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
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

/// A lookup that ends with its answer, its timeout or its task's cancellation, whichever
/// comes first; the others find it finished.
private final class PendingLookup: Sendable {
    private struct State {
        var continuation: CheckedContinuation<[SocketAddress], any Error>?
        var result: Result<[SocketAddress], any Error>?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<[SocketAddress], any Error>) {
        // Cancelled before it started: finish at once.
        let early = state.withLock { state -> Result<[SocketAddress], any Error>? in
            if state.result == nil { state.continuation = continuation }
            return state.result
        }
        if let early { continuation.resume(with: early) }
    }

    func setTimer(_ timer: Task<Void, Never>) {
        let finished = state.withLock { state -> Bool in
            if state.result == nil { state.timer = timer }
            return state.result != nil
        }
        if finished { timer.cancel() }
    }

    func finish(_ result: Result<[SocketAddress], any Error>) {
        let (continuation, timer) = state.withLock { state -> (CheckedContinuation<[SocketAddress], any Error>?, Task<Void, Never>?) in
            guard state.result == nil else { return (nil, nil) }
            state.result = result
            defer { state.continuation = nil; state.timer = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }
}
