import ChatNetworking
import ChatProtocol
import Foundation
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
        var housekeeping: Housekeeping?
        var adminSocket: AdminSocket?
        /// Holders of the event loops: the server itself until it stops, and each listener
        /// that borrowed them (``borrowEventLoops()``). The last to let go shuts them down.
        var eventLoopHolders = 1
    }

    public let configuration: ServerConfiguration
    let group: MultiThreadedEventLoopGroup
    /// Blocking work off the event loops: logins' (password checks, history) on threads of
    /// their own, logged-in users' requests (searches, pages, files) on others.
    private let loginPool: WorkPool
    private let requestPool: WorkPool
    let hub: Hub
    let store: any ChatStore
    let logger: Logger
    private let lifecycle = NIOLockedValueBox(Lifecycle())
    let connectionLimiter: ConnectionLimiter
    /// The last store check of a readiness probe (see ``readiness(timeout:)``).
    let storeCheck = StoreCheck()
    /// The TLS settings new connections get: the configuration's until ``replaceTLS(_:)``.
    let currentTLS: NIOLockedValueBox<ServerTLSContext?>
    /// When ``start()`` bound the listeners.
    let startedAt = NIOLockedValueBox<NIODeadline?>(nil)
    /// Follows the shared log, in a cluster.
    private let clusterLink: ClusterLink?
    /// The open-file limit's room for connections (what `--max-connections` is clamped to).
    let descriptorBudget: DescriptorBudget?

    /// Loads the store's state and prepares the server, on a thread that may wait for the store
    /// (not one of Swift's cooperative threads); nothing listens until ``start()``.
    public static func open(configuration: ServerConfiguration, store: any ChatStore, logger: Logger = Logger(label: "chatterbox.server")) async throws -> ChatServer {
        try await NIOThreadPool.singleton.runIfActive {
            try ChatServer(configuration: configuration, store: store, logger: logger)
        }
    }

    /// Loads the store's state and prepares the server; nothing listens until ``start()``.
    /// Blocks while the store loads: from async code, use ``open(configuration:store:logger:)``.
    public init(configuration: ServerConfiguration, store: any ChatStore, logger: Logger = Logger(label: "chatterbox.server")) throws {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        currentTLS = NIOLockedValueBox(configuration.tls)
        var membership: ClusterMembership?
        if let settings = configuration.cluster {
            guard let log = store as? any SharedLog else { throw ClusterSetupError.storeNotShared }
            let node = NodeIdentity(name: settings.node, incarnation: UUID().uuidString.lowercased())
            // Before loading: the users this node's earlier run left online are gone by then.
            _ = try log.begin(node, lease: settings.lease)
            membership = ClusterMembership(log: log, node: node, settings: settings)
            logger.info("Node \(settings.node) joined its cluster (lease \(settings.lease))")
        }
        let snapshot = try store.load()
        let storedBroadcasts = try store.recentBroadcasts(limit: RecentBroadcasts.capacity(forHistoryLimit: configuration.historyLimit))
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        var connections = configuration.limits.connections
        let descriptors = DescriptorBudget.prepare()
        descriptorBudget = descriptors
        if let descriptors {
            let clamped = descriptors.clamp(connections)
            connections = clamped.limit
            if let lowered = clamped.lowered {
                // Unlimited is what benchmarks ask for: no warning, the number is for the record.
                if configuration.limits.connections == 0 { logger.notice("\(lowered)") } else { logger.warning("\(lowered)") }
            }
        }
        connectionLimiter = ConnectionLimiter(
            perAddress: configuration.limits.connectionsPerAddress,
            total: connections,
            exemptions: configuration.limits.connectionLimitExemptions,
            ipv4PrefixLength: configuration.limits.ipv4ConnectionPrefixLength,
            ipv6PrefixLength: configuration.limits.ipv6ConnectionPrefixLength
        )
        loginPool = WorkPool(label: "logins", threads: 2)
        requestPool = WorkPool(label: "requests", threads: 2, limit: configuration.limits.requestsQueued)
        var fileDirectory = configuration.fileDirectory
        if fileDirectory != nil, membership != nil, !configuration.fileDirectoryIsShared {
            // Each server would hold only the bytes of the files uploaded through it, and take
            // the others' records for files whose bytes were lost.
            logger.notice("File transfer is off in a cluster unless --files-dir names a directory every node shares.")
            fileDirectory = nil
        }
        if fileDirectory != nil, configuration.maximumFrameLength < FileTransfer.minimumFrameLength {
            logger.warning("File transfer is off: it needs a frame limit of at least \(FileTransfer.minimumFrameLength) bytes (--max-frame-bytes is \(configuration.maximumFrameLength)).")
            fileDirectory = nil
        }
        let shelf = try fileDirectory.map {
            try FileShelf(
                directory: $0,
                limits: FileShelf.Limits(
                    maximumFileBytes: configuration.maximumFileBytes, quotaPerUser: configuration.fileQuotaPerUser,
                    quotaTotal: configuration.fileQuotaTotal, minimumFreeDiskBytes: configuration.minimumFreeDiskBytes),
                files: snapshot.files,
                clock: configuration.clock,
                shared: membership != nil
            )
        }
        if let report = shelf?.startReport, report != FileShelf.StartReport() {
            logger.notice("Files: removed \(report.removedPartialFiles) partial files of unfinished uploads and \(report.removedUnrecordedFiles) files without a record; \(report.missingFiles.count) records have no file and will be removed")
        }
        hub = Hub(
            configuration: configuration,
            store: store,
            snapshot: snapshot,
            eventLoops: Array(group.makeIterator()),
            loginPool: loginPool,
            requestPool: requestPool,
            storedBroadcasts: storedBroadcasts,
            fileShelf: shelf,
            cluster: membership,
            logger: logger
        )
        if let membership {
            let link = ClusterLink(hub: hub, membership: membership, logger: logger)
            clusterLink = link
            // Delivery follows the shared log, in which this server's commits take their place.
            hub.pipeline.deliver { batches, outcome in link.committed(batches, outcome: outcome) }
        } else {
            clusterLink = nil
        }
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
            every: .seconds(5), on: group.next(), pool: requestPool.threads, activity: { hub.commitCount },
            freed: .init(bytes: { budget.freedBytes }, threshold: max(8 << 20, budget.limit / 32)),
            pressure: configuration.outboundBudgetCountsProcessMemory
                ? .init(threshold: budget.limit / 4 * 3, observe: { budget.noteResidentMemory($0) }) : nil)
        // On the request threads: stopping them (in stop()) waits for a round under way, so no
        // round touches the store after it closes.
        clusterLink?.start()
        let housekeeping = Housekeeping(hub: hub, pool: requestPool.threads, logger: logger)
        housekeeping.start(on: group.next(), every: configuration.housekeepingInterval)
        var adminSocket: AdminSocket?
        if let path = configuration.adminSocketPath {
            do {
                adminSocket = try await AdminSocket.start(path: path, on: group.next(), logger: logger) { [weak self] line, caller in
                    self?.administer(line, caller: caller) ?? AdminReply(ok: false, lines: ["The server is stopping."])
                }
            } catch {
                logger.error("The admin socket \(path) could not be opened (chatterbox admin will not work): \(error)")
            }
        }
        startedAt.withLockedValue { $0 = .now() }
        lifecycle.withLockedValue {
            $0.listeners = listeners
            $0.trimmer = trimmer
            $0.housekeeping = housekeeping
            $0.adminSocket = adminSocket
        }
        return listeners.compactMap(\.localAddress)
    }

    /// Runs a round of housekeeping now (abandoned uploads, expired files, forgotten users),
    /// as the server does every ``ServerConfiguration/housekeepingInterval``; what it did.
    /// `nil` before ``start()`` or after ``stop()``.
    public func performHousekeeping() async -> HousekeepingReport? {
        guard let housekeeping = lifecycle.withLockedValue({ $0.stopped ? nil : $0.housekeeping }) else { return nil }
        let report = try? await housekeeping.run(on: group.next()).get()
        // Its store changes are staged on a loop: let them commit before answering.
        await hub.commitStagedChanges()
        return report
    }

    /// Bytes queued for slow readers now, all connections together (see
    /// ``ServerConfiguration/outboundQueueBudget``).
    public var queuedOutboundBytes: Int { hub.outboundBudget.queuedBytes }

    /// Whether ``stop()`` was called.
    var hasStopped: Bool { lifecycle.withLockedValue { $0.stopped } }

    /// The addresses the server listens on.
    public var localAddresses: [SocketAddress] {
        lifecycle.withLockedValue { $0.listeners.compactMap(\.localAddress) }
    }

    /// Stops the server, in an order in which nothing reads or writes the store once it is
    /// closed (issue 23): stops accepting and admitting logins; stops the blocking work (the
    /// requests still queued are answered "the server is shutting down", the ones running
    /// return); tells every client goodbye and closes its connection; commits what is staged;
    /// closes the store; stops the event loops. Idempotent.
    public func stop() async {
        let stopping: ([any Channel], AdminSocket?)? = lifecycle.withLockedValue { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            state.trimmer?.cancel()
            state.housekeeping?.cancel()
            return (state.listeners, state.adminSocket)
        }
        guard let (listeners, adminSocket) = stopping else { return }
        await adminSocket?.close()
        startedAt.withLockedValue { $0 = nil }
        for channel in listeners { try? await channel.close() }
        let connections = hub.beginShutdown()
        await requestPool.stop()
        await loginPool.stop()
        // The answers of the requests that ran and of those refused are staged in order behind
        // the messages before them: deliver them before the goodbyes.
        await hub.commitStagedChanges()
        var closed: [EventLoopFuture<Void>] = []
        for connection in connections {
            let promise = connection.eventLoop.makePromise(of: Void.self)
            connection.eventLoop.execute {
                // The connection may have closed on its own meanwhile: then there is nothing to wait for.
                guard let session = connection.session else { return promise.succeed() }
                session.closeForShutdown().cascade(to: promise)
            }
            closed.append(promise.futureResult)
        }
        // Each session sends its goodbye and closes within two seconds.
        _ = try? await EventLoopFuture.andAllComplete(closed, on: group.next()).get()
        // The leaving users' last changes are staged on their loops: commit them, then close
        // the store.
        await hub.commitStagedChanges()
        await clusterLink?.stop()
        await hub.closeStore()
        await returnEventLoops()
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

    // MARK: - Event loops lent to other listeners

    /// The server's event loops, for another listener whose connections become chat sessions
    /// (the browser gateway: a session lives on one of these loops, where its outbox is).
    /// Give them back with ``returnEventLoops()`` once that listener has stopped: they are shut
    /// down when the server has stopped and every borrower has returned them. `nil` once they are.
    public func borrowEventLoops() -> (any EventLoopGroup)? {
        lifecycle.withLockedValue { state in
            guard state.eventLoopHolders > 0 else { return nil }
            state.eventLoopHolders += 1
            return group
        }
    }

    /// Gives back what ``borrowEventLoops()`` lent (``stop()`` gives back the server's own
    /// hold); the last one shuts the loops down.
    public func returnEventLoops() async {
        let last = lifecycle.withLockedValue { state in
            guard state.eventLoopHolders > 0 else { return false }
            state.eventLoopHolders -= 1
            return state.eventLoopHolders == 0
        }
        if last { try? await group.shutdownGracefully() }
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

    /// What the bans and connection limits say of a new connection (chat port or gateway).
    enum Admission {
        /// Counted until it closes.
        case admitted
        /// To be told `reason` in one ERROR, then closed.
        case refused(reason: String)
        /// Closed already: too many refusals wait to be told.
        case dropped
    }

    /// Admits a connection from `address` or refuses it, logging why (`what` names it there).
    func admit(_ channel: any Channel, from address: String, what: String) -> Admission {
        let limiter = connectionLimiter
        // A banned address is told why (and for how long) rather than counted.
        let ban = hub.addressBan(address)
        guard let refusal = ban.map({ _ in "banned" }) ?? limiter.admit(address) else {
            channel.closeFuture.whenComplete { _ in limiter.release(address) }
            return .admitted
        }
        hub.metrics.connectionsRefused.increment()
        guard limiter.beginPoliteRefusal() else {
            channel.close(promise: nil)
            return .dropped
        }
        channel.closeFuture.whenComplete { _ in limiter.politeRefusalEnded() }
        if let ban {
            let now = configuration.clock.secondsSinceEpoch()
            logger.info("Refusing \(what) from \(address): banned \(ban.remainingText(at: now))")
            return .refused(reason: "Connection refused: \(ban.refusalText(at: now))")
        }
        logger.notice("Refusing \(what) from \(address): \(refusal)")
        return .refused(reason: "Connection refused: \(refusal). Try again later.")
    }

    private func setUpConnection(_ channel: any Channel) throws {
        let limits = configuration.limits
        let address = ConnectionLimiter.key(for: channel.remoteAddress)
        let admission = admit(channel, from: address, what: "a connection")
        if case .dropped = admission { return }
        if case .admitted = admission { hub.metrics.connectionsAccepted.increment() }

        let pipeline = channel.pipeline.syncOperations
        var tlsBelow: TLSServerHandler?
        if let tls = currentTLS.withLockedValue({ $0 }) {
            let handler = tls.makeHandler()
            try pipeline.addHandler(handler)
            tlsBelow = handler as? TLSServerHandler
            try pipeline.addHandler(HandshakeDeadline(timeout: limits.handshakeTimeout))
        }
        if case .refused(let reason) = admission {
            try pipeline.addHandler(RefusalHandler(reason: reason))
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
        try addBelowSession(FrameSplitter(maximumFrameLength: configuration.maximumFrameLength, frameTimeout: limits.frameTimeout))
        var readLimiter: ReadRateLimiter?
        if limits.framesPerSecond > 0 || limits.readBytesPerSecond > 0 {
            let limiter = ReadRateLimiter(
                framesPerSecond: limits.framesPerSecond, burst: limits.frameBurst,
                bytesPerSecond: Double(limits.readBytesPerSecond), byteBurst: limits.readByteBurst)
            try addBelowSession(limiter)
            readLimiter = limiter
        }
        let session = SessionHandler(hub: hub, eventLoop: channel.eventLoop, address: address, tlsBelow: tlsBelow, readLimiter: readLimiter)
        try pipeline.addHandler(session)
    }
}

/// Why a server cannot take part in a cluster.
public enum ClusterSetupError: Error, CustomStringConvertible {
    case storeNotShared

    public var description: String {
        switch self {
        case .storeNotShared: "a cluster needs a store that several servers share (PostgreSQL), not the embedded SQLite"
        }
    }
}
