import ChatProtocol
import ChatStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import Synchronization

/// The chat room: who is online, who blocks whom, and where each message goes.
///
/// All state sits behind one lock, and every frame bound for a client is queued into its
/// outbox while that lock is held, so every client sees events in one global order.
/// Messages accepted on an event loop are staged in its ``GatherBatch``; a gather window after the
/// first, the batch goes to the ``CommitPipeline``, which stores it on a thread of its own (with
/// whatever other loops handed over meanwhile) and hands it back to be delivered: a message is
/// delivered only after it is stored, so whatever a client has seen survives a crash of the
/// server, and no event loop ever waits for the store.
///
/// Its parts: login and leaving (`Hub+Login`), messages from acceptance to delivery
/// (`Hub+Delivery`), routing decisions (`Hub+Routing`), commands (`Hub+Commands`), names
/// (`Hub+Names`), files (`Hub+Files`), blocking work (`Hub+Work`).
final class Hub: Sendable {
    struct State {
        var presence: Presence
        /// Every user ever seen, by key.
        var users: [String: KnownUser]
        var blocks: BlockGraph
        /// Highest sequence number delivered (committed and queued to recipients).
        var lastDelivered: Int64
        var reservations: NameReservations
        /// Registered names: user key → encoded password hash.
        var accounts: [String: String]
        var accepting = true
        /// Batches committed so far (logins, leaves, messages, blocks): a sign of activity.
        var commits: UInt64 = 0
        /// The newest broadcasts delivered, for logins.
        var recentBroadcasts: RecentBroadcasts
        /// Known users by the skeleton of their name (``UsernameLookalikes``): a new name that
        /// looks like one of them across scripts is refused.
        var lookalikes: [String: [String]] = [:]
    }

    let configuration: ServerConfiguration
    let rules: UsernameRules
    let outboxes: [Outbox]
    let logger: Logger
    private let outboxByLoop: [ObjectIdentifier: Outbox]
    // A pthread mutex (NIOLockedValueBox), which ThreadSanitizer can see; Synchronization.Mutex
    // is invisible to it. Internal (not private) for the hub's extensions in other files.
    let state: NIOLockedValueBox<State>
    let store: any ChatStore
    /// Each event loop's staged changes (by the loop's index).
    let batches: [GatherBatch]
    /// Stores the batches in order and hands them back for delivery.
    let pipeline: CommitPipeline
    /// Logins' blocking work (password checks, the history replay): threads of their own, so
    /// that no request of a logged-in user can keep anyone from logging in.
    let loginPool: WorkPool
    /// Logged-in users' blocking work: pages and searches, file listings and I/O, /Register.
    let requestPool: WorkPool
    /// Password attempts per (name, address), per name and per address.
    let loginAttempts: LoginAttemptLimiter
    /// Uploaded files (feature `files`); `nil` when file transfer is off.
    let fileShelf: FileShelf?
    /// The bytes that may wait for slow readers, all together and per connection.
    let outboundBudget: OutboundBudget
    /// This server's part in a cluster; `nil` for a server on its own.
    let cluster: ClusterMembership?
    /// What the server counts (``ServerMetrics``).
    let metrics: ServerMetrics
    /// The operators' bans (``BanList``): a lock of their own, taken at every connection and
    /// login, never held while taking another.
    let bans: NIOLockedValueBox<BanList>
    /// What may change while the server runs (``LiveSettings``; SIGHUP).
    let live: NIOLockedValueBox<LiveSettings>
    /// Counts the changes of ``live``: a session compares it (one atomic load per frame) to
    /// take a new message rate before its next message.
    let liveGeneration = Atomic<Int>(0)

    init(
        configuration: ServerConfiguration,
        store: any ChatStore,
        snapshot: StoreSnapshot,
        eventLoops: [any EventLoop],
        loginPool: WorkPool,
        requestPool: WorkPool,
        storedBroadcasts: [StoredMessage]? = nil,
        fileShelf: FileShelf? = nil,
        cluster: ClusterMembership? = nil,
        logger: Logger
    ) {
        self.cluster = cluster
        self.fileShelf = fileShelf
        self.configuration = configuration
        self.rules = configuration.usernameRules
        self.store = store
        let metrics = configuration.metricsFactory.map(ServerMetrics.init) ?? .none
        self.metrics = metrics
        self.pipeline = CommitPipeline(store: store, metrics: metrics)
        self.logger = logger
        self.loginPool = loginPool
        self.requestPool = requestPool
        let outboxes = eventLoops.enumerated().map { Outbox(eventLoop: $1, index: $0, pacing: configuration.flushPacing, gatherWindow: configuration.gatherWindow, metrics: metrics) }
        self.outboxes = outboxes
        self.outboxByLoop = Dictionary(uniqueKeysWithValues: outboxes.map { (ObjectIdentifier($0.eventLoop), $0) })
        var users: [String: KnownUser] = [:]
        var lookalikes: [String: [String]] = [:]
        for user in snapshot.users {
            let key = UsernameRules.key(user.name)
            users[key] = user
            lookalikes[UsernameLookalikes.skeleton(user.name), default: []].append(key)
        }
        var presence = Presence(loopCount: outboxes.count)
        for user in snapshot.online where user.node.incarnation != cluster?.node.incarnation {
            presence.insertRemote(key: UsernameRules.key(user.name), name: user.name, node: user.node.name)
        }
        self.state = NIOLockedValueBox(State(
            presence: presence,
            users: users,
            blocks: BlockGraph(snapshot.blocks),
            lastDelivered: snapshot.lastSequence,
            reservations: NameReservations(duration: configuration.nameReservation),
            accounts: snapshot.accounts,
            recentBroadcasts: RecentBroadcasts(historyLimit: configuration.historyLimit, stored: storedBroadcasts),
            lookalikes: lookalikes
        ))
        self.bans = NIOLockedValueBox(BanList(snapshot.bans))
        self.live = NIOLockedValueBox(configuration.liveSettings)
        self.loginAttempts = LoginAttemptLimiter(
            perNameAndAddress: configuration.loginAttemptsPerNameAndAddress,
            perName: configuration.loginAttemptsPerName,
            perAddress: configuration.loginAttemptsPerAddress,
            clock: configuration.clock
        )
        self.outboundBudget = OutboundBudget(
            limit: configuration.outboundQueueBudget, perConnection: configuration.outboundQueueLimit, eventLoops: eventLoops)
        self.batches = eventLoops.enumerated().map { GatherBatch(eventLoop: $1, index: $0) }
        pipeline.deliver { [unowned self] batches, outcome in self.deliver(batches, outcome: outcome) }
    }

    /// Whether `eventLoop` is one of the hub's (it has an outbox there).
    func hasOutbox(for eventLoop: any EventLoop) -> Bool {
        outboxByLoop[ObjectIdentifier(eventLoop)] != nil
    }

    /// The outbox of `eventLoop` (one of the server's loops).
    func outbox(for eventLoop: any EventLoop) -> Outbox {
        outboxByLoop[ObjectIdentifier(eventLoop)]!
    }

    // MARK: - Shutdown

    /// Closes the store: no commit reaches it afterwards (a batch handed over later fails as a
    /// write that could not be stored). After ``commitStagedChanges()``.
    func closeStore() async {
        await pipeline.close()
        let (store, logger) = (self.store, self.logger)
        // Closing waits for the store's reads and writes under way: off the cooperative threads.
        try? await NIOThreadPool.singleton.runIfActive {
            do { try store.close() } catch { logger.error("Closing the store failed: \(error)") }
        }
        await pipeline.shutdown()
    }

    /// Stops logins and returns every connection online, for the server to close.
    func beginShutdown() -> [ClientConnection] {
        state.withLockedValue { state in
            state.accepting = false
            return Array(state.presence.byKey.values)
        }
    }

    // MARK: - Helpers

    /// Queues `frame` for every online connection but `excluded`. Caller holds the lock.
    func enqueueToEveryone(_ frame: ByteBuffer, except excluded: ClientConnection?, state: State) {
        for outbox in outboxes {
            var members = state.presence.byLoop[outbox.index]
            if let excluded, excluded.outbox === outbox {
                members.removeAll { $0 === excluded }
            }
            if !members.isEmpty { outbox.enqueue(frame, to: .many(members)) }
        }
    }

    func encode(_ frame: Frame) -> ByteBuffer {
        FrameCoding.encode(frame)
    }

    static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }
}
