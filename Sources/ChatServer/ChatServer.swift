import ChatNetworking
import ChatProtocol
import ChatTLS
public import ChatStore
public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import NIOConcurrencyHelpers

/// The Chatterbox server: listens (TLS or plain TCP), runs sessions, routes through the hub,
/// persists through a ``ChatStore``.
///
/// Use ``start()`` and ``stop()`` directly, or run it as a `Service` in a `ServiceGroup`, which
/// stops it gracefully on SIGTERM/SIGINT.
public final class ChatServer: Service, Sendable {
    private struct Lifecycle {
        var listeners: [any Channel] = []
        var started = false
        var stopped = false
        var trimmer: MemoryTrimmer?
    }

    public let configuration: ServerConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let historyPool: NIOThreadPool
    private let hub: Hub
    private let store: any ChatStore
    private let logger: Logger
    private let lifecycle = NIOLockedValueBox(Lifecycle())
    private let connectionLimiter: ConnectionLimiter

    /// Loads the store's state and prepares the server; nothing listens until ``start()``.
    public init(configuration: ServerConfiguration, store: any ChatStore, logger: Logger = Logger(label: "chatterbox.server")) throws {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        let snapshot = try store.load()
        let storedBroadcasts = try store.recentBroadcasts(limit: RecentBroadcasts.capacity(forHistoryLimit: configuration.historyLimit))
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        historyPool = NIOThreadPool(numberOfThreads: 2)
        historyPool.start()
        var connections = configuration.limits.connections
        if let descriptors = DescriptorBudget.prepare() {
            let clamped = descriptors.clamp(connections)
            connections = clamped.limit
            if let lowered = clamped.lowered {
                // Unlimited is what benchmarks ask for: no warning, the number is for the record.
                if configuration.limits.connections == 0 { logger.notice("\(lowered)") } else { logger.warning("\(lowered)") }
            }
        }
        connectionLimiter = ConnectionLimiter(
            perAddress: configuration.limits.connectionsPerAddress,
            total: connections
        )
        var fileDirectory = configuration.fileDirectory
        if fileDirectory != nil, configuration.maximumFrameLength < FileTransfer.minimumFrameLength {
            logger.warning("File transfer is off: it needs a frame limit of at least \(FileTransfer.minimumFrameLength) bytes (--max-frame-bytes is \(configuration.maximumFrameLength)).")
            fileDirectory = nil
        }
        let shelf = try fileDirectory.map {
            try FileShelf(directory: $0, maximumFileBytes: configuration.maximumFileBytes, quotaPerUser: configuration.fileQuotaPerUser, files: snapshot.files)
        }
        hub = Hub(
            configuration: configuration,
            store: store,
            snapshot: snapshot,
            eventLoops: Array(group.makeIterator()),
            historyPool: historyPool,
            storedBroadcasts: storedBroadcasts,
            fileShelf: shelf,
            logger: logger
        )
    }

    /// Binds every address getaddrinfo gives for the configured host and starts accepting.
    /// Returns the bound addresses (with the real port when the configured one is 0).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let shouldStart = lifecycle.withLockedValue { state in
            defer { state.started = true }
            return !state.started
        }
        guard shouldStart else { return localAddresses }
        var port = configuration.port
        var listeners: [any Channel] = []
        do {
            for var address in try AddressResolver.bindAddresses(host: configuration.host, port: configuration.port) {
                address.port = port
                let channel = try await bootstrap(for: address).bind(to: address).get()
                if port == 0, let bound = channel.localAddress?.port { port = bound }
                listeners.append(channel)
                logger.debug("Listening on \(channel.localAddress.map { "\($0)" } ?? "?") (\(configuration.tls == nil ? "plain TCP" : "TLS"))")
            }
        } catch {
            for channel in listeners { try? await channel.close() }
            throw error
        }
        let hub = self.hub
        let budget = hub.outboundBudget
        let trimmer = MemoryTrimmer(
            every: .seconds(5), on: group.next(), pool: historyPool, activity: { hub.commitCount },
            freed: .init(bytes: { budget.freedBytes }, threshold: max(8 << 20, budget.limit / 32)))
        lifecycle.withLockedValue {
            $0.listeners = listeners
            $0.trimmer = trimmer
        }
        return listeners.compactMap(\.localAddress)
    }

    /// Bytes queued for slow readers now, all connections together (see
    /// ``ServerConfiguration/outboundQueueBudget``).
    public var queuedOutboundBytes: Int { hub.outboundBudget.queuedBytes }

    /// The addresses the server listens on.
    public var localAddresses: [SocketAddress] {
        lifecycle.withLockedValue { $0.listeners.compactMap(\.localAddress) }
    }

    /// Stops accepting, tells every client the server is going away, closes every
    /// connection, commits what is queued to the store and closes it. Idempotent.
    public func stop() async {
        let listeners: [any Channel]? = lifecycle.withLockedValue { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            state.trimmer?.cancel()
            return state.listeners
        }
        guard let listeners else { return }
        for channel in listeners { try? await channel.close() }
        let connections = hub.beginShutdown()
        var closed: [EventLoopFuture<Void>] = []
        for connection in connections {
            let promise = connection.eventLoop.makePromise(of: Void.self)
            connection.eventLoop.execute {
                // The connection may have closed on its own meanwhile: then there is nothing to wait for.
                guard let session = connection.session.value else { return promise.succeed() }
                session.closeForShutdown().cascade(to: promise)
            }
            closed.append(promise.futureResult)
        }
        // Each session sends its goodbye and closes within two seconds.
        _ = try? await EventLoopFuture.andAllComplete(closed, on: group.next()).get()
        // The leaving users' last changes are staged on their loops: commit them, then close
        // the database off the cooperative threads (it blocks).
        await hub.commitStagedChanges()
        let (store, logger) = (self.store, self.logger)
        try? await NIOThreadPool.singleton.runIfActive {
            do { try store.close() } catch { logger.error("Closing the store failed: \(error)") }
        }
        try? await historyPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        logger.info("Server stopped")
    }

    /// Runs until graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`) or cancellation.
    /// - Parameter onListening: called once every address is bound, with the addresses.
    public func run(onListening: @Sendable ([SocketAddress]) -> Void) async throws {
        do {
            onListening(try await start())
        } catch {
            await stop()
            throw error
        }
        try? await gracefulShutdown()
        await stop()
    }

    /// Runs until graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`) or cancellation.
    public func run() async throws {
        try await run(onListening: { _ in })
    }

    // MARK: - Pipeline

    private func bootstrap(for address: SocketAddress) -> ServerBootstrap {
        let tracking = hub.outboundBudget.trackingThreshold
        let (logger, limiter) = (self.logger, connectionLimiter)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptPause(logger: logger, openConnections: { limiter.openConnections }))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: configuration.sendsImmediately ? 1 : 0)
            .childChannelOption(.allocator, value: LazyPageAllocator.allocator)
            // Each channel keeps its last receive buffer for the next read. NIO starts at
            // 2 KiB; an idle chat connection has sent a ClientHello and a login, and a busy
            // one doubles its buffer on every full read.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 * 1024))
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            // Unwritable once a queue is worth counting against the outbound budget.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: tracking / 4, high: tracking))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try setUpConnection(channel) }
            }
        if configuration.unsentBytesLimit > 0, let option = Self.unsentBytesOption {
            bootstrap = bootstrap.childChannelOption(option, value: SocketOptionValue(clamping: configuration.unsentBytesLimit))
        }
        if case .v6 = address {
            // Bind IPv6 alone so that the IPv4 wildcard can be bound beside it.
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        return bootstrap
    }

    /// TCP_NOTSENT_LOWAT: the kernel takes no more for a connection while this many bytes
    /// it holds for it are not yet sent. Linux only (the constant differs elsewhere).
    private static var unsentBytesOption: ChannelOptions.Types.SocketOption? {
        #if os(Linux)
        ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 25))
        #else
        nil
        #endif
    }

    /// Whether `handler` may sit between the TLS handler and the session, which hands its
    /// deliveries to the TLS handler directly: it must not act on writes or flushes.
    static func mayStandBelowSession(_ handler: any ChannelHandler) -> Bool {
        !(handler is any _ChannelOutboundHandler) || handler is any PassesWritesThrough
    }

    private func setUpConnection(_ channel: any Channel) throws {
        let limits = configuration.limits
        let address = ConnectionLimiter.key(for: channel.remoteAddress)
        let refusal = connectionLimiter.admit(address)
        let limiter = connectionLimiter
        if refusal == nil {
            channel.closeFuture.whenComplete { _ in limiter.release(address) }
        } else if limiter.beginPoliteRefusal() {
            channel.closeFuture.whenComplete { _ in limiter.politeRefusalEnded() }
        } else {
            channel.close(promise: nil)
            return
        }

        let pipeline = channel.pipeline.syncOperations
        var tlsBelow: TLSServerHandler?
        if let tls = configuration.tls {
            let handler = tls.makeHandler()
            try pipeline.addHandler(handler)
            tlsBelow = handler as? TLSServerHandler
            try pipeline.addHandler(HandshakeDeadline(timeout: limits.handshakeTimeout))
        }
        if let refusal {
            logger.notice("Refusing a connection from \(address): \(refusal)")
            try pipeline.addHandler(RefusalHandler(reason: "Connection refused: \(refusal). Try again later."))
            return
        }
        // Right above the head, below TLS: it sees the bytes that go into NIO's queue.
        try pipeline.addHandler(OutboundBacklog(budget: hub.outboundBudget, eventLoop: channel.eventLoop), position: .first)
        // The session hands its deliveries to the TLS handler directly, past everything in
        // between: that may only be handlers that leave writes and flushes alone.
        func addBelowSession(_ handler: any ChannelHandler) throws {
            assert(Self.mayStandBelowSession(handler), "\(type(of: handler)) handles writes: deliveries would skip it")
            try pipeline.addHandler(handler)
        }
        try addBelowSession(FrameSplitter(maximumFrameLength: configuration.maximumFrameLength))
        if limits.framesPerSecond > 0 {
            try addBelowSession(ReadRateLimiter(framesPerSecond: limits.framesPerSecond, burst: limits.frameBurst))
        }
        let session = SessionHandler(hub: hub, tlsBelow: tlsBelow)
        session.connection = ClientConnection(session: session, outbox: hub.outbox(for: channel.eventLoop), address: address)
        try pipeline.addHandler(session)
    }
}
