import ChatNetworking
public import Hummingbird
import HummingbirdCore
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import ServiceLifecycle

/// Where and how the operators' HTTP listener (`--http-port`) listens.
public struct OperatorsHTTPConfiguration: Sendable {
    /// "" for every local address (IPv4 and IPv6), like the chat port; otherwise an address or
    /// a name getaddrinfo resolves.
    public var host: String
    /// 0 picks a free port (tests).
    public var port: Int
    /// HTTPS with this certificate; `nil` serves plain HTTP (`--http-plaintext`).
    public var tls: ReloadableTLSContext?
    /// A connection with no request under way for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// Time for a TLS handshake to complete once the connection is accepted.
    public var handshakeTimeout: TimeAmount = .seconds(10)

    public init(host: String = "", port: Int, tls: ReloadableTLSContext?) {
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// The operators' HTTP listener on hummingbird 2: one router, whose routes are the
/// ``OperatorEndpoints`` and whatever else is registered on it (the browser gateway's page and
/// WebSocket), behind TLS unless plaintext was asked for.
///
/// A `Service`: run it in the same `ServiceGroup` as the chat server, before it in the list, so
/// that on SIGTERM the chat server drains first while `/ready` says so.
public final class OperatorsHTTPServer: Service, Sendable {
    /// The HTTP/1 child channel over a responder; the WebSocket gateway supplies one that also
    /// upgrades (hummingbird-websocket's), the default serves plain HTTP/1.1.
    public typealias ChannelMaker = @Sendable (_ responder: @escaping HTTPChannelHandler.Responder, _ configuration: HTTP1Channel.Configuration) throws -> any ServerChildChannel

    private let application: any Service
    private let bound = NIOLockedValueBox<(address: SocketAddress?, waiters: [CheckedContinuation<SocketAddress?, Never>], finished: Bool)>((nil, [], false))

    /// - Parameters:
    ///   - router: the routes served (register ``OperatorEndpoints`` on it).
    ///   - eventLoopGroup: the loops connections run on (the chat server's, for the browser
    ///     gateway, whose sessions must run there); `nil` for NIO's shared ones.
    ///   - makeChannel: the child channel for each connection, below which TLS is added.
    public init<Context: RequestContext>(
        configuration: OperatorsHTTPConfiguration,
        router: Router<Context>,
        logger: Logger,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        makeChannel: @escaping ChannelMaker = { responder, configuration in HTTP1Channel(responder: responder, configuration: configuration) }
    ) where Context.Source == ApplicationRequestContextSource {
        let tls = configuration.tls
        let (idleTimeout, handshakeTimeout) = (configuration.idleTimeout, configuration.handshakeTimeout)
        let builder = HTTPServerBuilder { responder in
            let channel = try makeChannel(responder, HTTP1Channel.Configuration(idleTimeout: idleTimeout))
            guard let tls else { return channel }
            return channel.behindTLS(tls, handshakeTimeout: handshakeTimeout)
        }
        let bound = self.bound
        application = Application(
            router: router,
            server: builder,
            configuration: ApplicationConfiguration(
                address: .hostname(Self.bindHost(configuration.host), port: configuration.port),
                serverName: nil),
            onServerRunning: { channel in
                let waiters = bound.withLockedValue { state in
                    state.address = channel.localAddress
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: channel.localAddress) }
            },
            eventLoopGroupProvider: eventLoopGroup.map { .shared($0) } ?? .singleton,
            logger: logger
        )
    }

    public func run() async throws {
        defer {
            let waiters = bound.withLockedValue { state in
                state.finished = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: nil) }
        }
        try await application.run()
    }

    /// The address it listens on, once it does; `nil` if it stopped (or failed to bind) first.
    public func boundAddress() async -> SocketAddress? {
        await withCheckedContinuation { continuation in
            let known: SocketAddress?? = bound.withLockedValue { state in
                if let address = state.address { return .some(address) }
                if state.finished { return .some(nil) }
                state.waiters.append(continuation)
                return .none
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// "" (every address) is the IPv6 wildcard, which takes IPv4 too, where the machine has
    /// IPv6; the IPv4 one where it has not.
    static func bindHost(_ host: String) -> String {
        guard host.isEmpty else { return host }
        let wildcards = (try? AddressResolver.bindAddresses(host: "", port: 0)) ?? []
        return wildcards.contains { if case .v6 = $0 { true } else { false } } ? "::" : "0.0.0.0"
    }
}
