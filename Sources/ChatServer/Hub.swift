import ChatProtocol
import ChatStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// The chat room: who is online, who blocks whom, and where each message goes.
///
/// All state sits behind one lock, and every frame bound for a client is queued into its
/// outbox while that lock is held, so every client sees events in one global order.
/// Messages accepted on an event loop are staged in its ``TickBatch`` and committed together
/// when the loop's tick ends; a message is delivered only after that commit, so whatever a
/// client has seen survives a crash of the server.
final class Hub: Sendable {
    struct State {
        var presence: Presence
        /// Every user ever seen, by key.
        var users: [String: KnownUser]
        var blocks: BlockGraph
        /// Sequence number for the next accepted message.
        var nextSequence: Int64
        /// Highest sequence number delivered (committed and queued to recipients).
        var lastDelivered: Int64
        var reservations: NameReservations
        /// Registered names: user key → encoded password hash.
        var accounts: [String: String]
        var accepting = true
        /// Set once the store is about to close: no commit may reach it after that.
        var storeClosed = false
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
    private let batches: [TickBatch]
    /// Logins' blocking work (password checks, the history replay): threads of their own, so
    /// that no request of a logged-in user can keep anyone from logging in.
    private let loginPool: WorkPool
    /// Logged-in users' blocking work: pages and searches, file listings and I/O, /Register.
    private let requestPool: WorkPool
    /// Password attempts per (name, address), per name and per address.
    let loginAttempts: LoginAttemptLimiter
    /// Uploaded files (feature `files`); `nil` when file transfer is off.
    let fileShelf: FileShelf?
    /// The bytes that may wait for slow readers, all together and per connection.
    let outboundBudget: OutboundBudget

    init(
        configuration: ServerConfiguration,
        store: any ChatStore,
        snapshot: StoreSnapshot,
        eventLoops: [any EventLoop],
        loginPool: WorkPool,
        requestPool: WorkPool,
        storedBroadcasts: [StoredMessage]? = nil,
        fileShelf: FileShelf? = nil,
        logger: Logger
    ) {
        self.fileShelf = fileShelf
        self.configuration = configuration
        self.rules = configuration.usernameRules
        self.store = store
        self.logger = logger
        self.loginPool = loginPool
        self.requestPool = requestPool
        let outboxes = eventLoops.enumerated().map { Outbox(eventLoop: $1, index: $0, pacing: configuration.flushPacing, gatherWindow: configuration.gatherWindow) }
        self.outboxes = outboxes
        self.outboxByLoop = Dictionary(uniqueKeysWithValues: outboxes.map { (ObjectIdentifier($0.eventLoop), $0) })
        var users: [String: KnownUser] = [:]
        var lookalikes: [String: [String]] = [:]
        for user in snapshot.users {
            let key = UsernameRules.key(user.name)
            users[key] = user
            lookalikes[UsernameLookalikes.skeleton(user.name), default: []].append(key)
        }
        self.state = NIOLockedValueBox(State(
            presence: Presence(loopCount: outboxes.count),
            users: users,
            blocks: BlockGraph(snapshot.blocks),
            nextSequence: snapshot.lastSequence + 1,
            lastDelivered: snapshot.lastSequence,
            reservations: NameReservations(duration: configuration.nameReservation),
            accounts: snapshot.accounts,
            recentBroadcasts: RecentBroadcasts(historyLimit: configuration.historyLimit, stored: storedBroadcasts),
            lookalikes: lookalikes
        ))
        self.loginAttempts = LoginAttemptLimiter(
            perNameAndAddress: configuration.loginAttemptsPerNameAndAddress,
            perName: configuration.loginAttemptsPerName,
            perAddress: configuration.loginAttemptsPerAddress,
            clock: configuration.clock
        )
        self.batches = eventLoops.enumerated().map { TickBatch(eventLoop: $1, index: $0) }
        self.outboundBudget = OutboundBudget(
            limit: configuration.outboundQueueBudget, perConnection: configuration.outboundQueueLimit, eventLoops: eventLoops)
    }

    /// The outbox of `eventLoop` (one of the server's loops).
    func outbox(for eventLoop: any EventLoop) -> Outbox {
        outboxByLoop[ObjectIdentifier(eventLoop)]!
    }

    // MARK: - Login and leaving

    /// What a successful login needs to finish: the reply's contents and the history to load.
    struct LoginTicket: Sendable {
        var name: String
        var key: String
        var userList: [String]
        var history: HistoryRequest
        /// What the welcome adds about the name (its reservation, a past that is not theirs).
        var notice: String?
    }

    enum LoginOutcome: Sendable {
        case accepted(LoginTicket)
        case rejected(String)
        /// The name is registered and the login did not prove the password.
        case needsPassword(String)
    }

    /// Registers `connection` as `name`. From here on it receives every event (the session
    /// holds them back until its login reply is sent); everyone else is told it joined.
    /// - Parameter authenticatedHash: the encoded password hash the login's password was just
    ///   checked against, for a registered name; it also lifts the name's reservation.
    /// - Parameter offersAccounts: the client negotiated `accounts`, so it can register and log
    ///   in with a password: what it is told about reservations says so.
    func login(name: String, connection: ClientConnection, authenticatedHash: String? = nil, offersAccounts: Bool = false) -> LoginOutcome {
        if let problem = rules.problem(with: name) { return .rejected(problem) }
        let key = UsernameRules.key(name)
        let skeleton = UsernameLookalikes.skeleton(name)
        let joined = encode(Frame(usersJoined: [name]))
        return state.withLockedValue { state in
            guard state.accepting else { return .rejected("The server is shutting down.") }
            if state.users[key] == nil, let problem = state.lookalikeProblem(name, skeleton: skeleton) {
                return .rejected(problem)
            }
            if let registered = state.accounts[key], registered != authenticatedHash {
                return .needsPassword(Self.registeredNameText(state.users[key]?.name ?? name))
            }
            if state.presence[key] != nil {
                let current = state.users[key]?.name ?? name
                return .rejected("The username \(current) is already in use. Please choose another.")
            }
            let now = configuration.clock.secondsSinceEpoch()
            let known = state.users[key]
            var newHolder = known == nil
            if authenticatedHash == nil, let known {
                switch state.reservations.verdict(for: known, from: connection.address, now: now) {
                case .holder:
                    break
                case .reserved(let remaining):
                    return .rejected(state.reservedText(known.name, remaining: remaining, offersAccounts: offersAccounts))
                case .newHolder:
                    newHolder = true
                }
            }
            let through = state.lastDelivered
            var user = KnownUser(
                name: name, deliveredThrough: through, address: connection.address, lastSeen: now,
                heldSince: known?.heldSince ?? 0, heldSinceTime: known?.heldSinceTime ?? 0)
            var notice = state.reservationNotice(name, registered: state.accounts[key] != nil, offersAccounts: offersAccounts)
            if newHolder {
                // What the name received, sent and stored before is not this holder's.
                user.heldSince = through
                user.heldSinceTime = now
                if let known {
                    notice = "The name \(name) was used from another address before (last \(describeAgo(seconds: now - known.lastSeen)) ago); its messages and files from then are not shown to you." + (notice.map { " " + $0 } ?? "")
                    for blocked in state.blocks.blocked(by: key) {
                        let relation = BlockRelation(blocker: key, blocked: blocked)
                        state.blocks.remove(relation)
                        stage(.store(.unblock(relation)), for: connection)
                    }
                }
            }
            let pendingAfter = newHolder ? through : max(known?.deliveredThrough ?? through, user.heldSince)
            stage(.store(.user(user)), for: connection)
            if state.users.updateValue(user, forKey: key) == nil { state.lookalikes[skeleton, default: []].append(key) }
            enqueueToEveryone(joined, except: nil, state: state)
            state.presence.insert(connection, key: key, name: name)
            let userList = state.presence.sortedNames
            let request = HistoryRequest(
                userKey: key,
                excludedSenders: state.blocks.separated(from: key),
                limit: configuration.historyLimit,
                throughSequence: through,
                pendingAfter: pendingAfter,
                recentBroadcasts: state.recentBroadcasts.window,
                directMessagesAfter: user.heldSince
            )
            return .accepted(LoginTicket(name: name, key: key, userList: userList, history: request, notice: notice))
        }
    }

    /// What a login without the password of registered name `name` is told.
    static func registeredNameText(_ name: String) -> String {
        "The username \(name) is registered: log in with its password, or choose another name."
    }

    // MARK: - Accounts

    /// The encoded password hash of the registered name `key`, if it is registered.
    func accountHash(forKey key: String) -> String? {
        state.withLockedValue { $0.accounts[key] }
    }

    /// Records (or, with `nil`, removes) the password hash of the user `key`, logged in on
    /// `connection`; returns what to tell them.
    func setAccount(key: String, passwordHash: String?, connection: ClientConnection) -> [String] {
        state.withLockedValue { state in
            let name = state.users[key]?.name ?? key
            let existed = state.accounts[key] != nil
            guard passwordHash != nil || existed else { return ["\(name) is not registered."] }
            // Whoever set the password knows it; whoever knew the old one no longer counts.
            loginAttempts.passwordChanged(for: key, from: passwordHash == nil ? nil : connection.address)
            stage(.store(.account(key: key, passwordHash: passwordHash)), for: connection)
            state.accounts[key] = passwordHash
            if passwordHash == nil {
                return ["\(name) is no longer registered: anyone may use the name when you are away."]
            }
            return existed
                ? ["Password changed for \(name)."]
                : ["Registered \(name): from now on this name needs its password to log in, from any address."]
        }
    }

    /// Checks a password at login on the login threads; completes on `eventLoop`.
    func verifyPassword(on eventLoop: any EventLoop, _ check: @escaping @Sendable () -> Bool) -> EventLoopFuture<Bool> {
        loginPool.run(on: eventLoop, check)
    }

    /// Runs a logged-in user's slow work (password hashing, file I/O) on the request threads;
    /// completes on `eventLoop`. Fails with ``WorkPoolError/busy`` when they hold their limit.
    func offload<Value: Sendable>(on eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> Value) -> EventLoopFuture<Value> {
        requestPool.run(on: eventLoop, work)
    }

    /// What a request cost: its outcome and the request thread's time it took.
    struct Measured<Value: Sendable>: Sendable {
        var result: Result<Value, any Error>
        var cost: Duration
    }

    /// Runs an expensive request on the request threads and measures it; completes on
    /// `eventLoop` and never fails (a refusal of the pool is a failed result that cost nothing).
    func runRequest<Value: Sendable>(on eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> Value) -> EventLoopFuture<Measured<Value>> {
        requestPool.run(on: eventLoop) { () -> Measured<Value> in
            let clock = ContinuousClock()
            let start = clock.now
            let result = Result { try work() }
            return Measured(result: result, cost: clock.now - start)
        }.recover { Measured(result: .failure($0), cost: .zero) }
    }

    /// Loads a login's history on the login threads; completes on `eventLoop`.
    func loadHistory(_ request: HistoryRequest, on eventLoop: any EventLoop) -> EventLoopFuture<History> {
        let store = self.store
        return loginPool.run(on: eventLoop) {
            try store.history(request)
        }
    }

    /// The work of loading a page of the history `key` may see, or of search results, for
    /// ``runRequest(on:_:)``. Visibility follows the blocks as they are now, and the page ends
    /// at what has been delivered, like the login replay; the store stops it past the query
    /// time limit.
    func pageWork(for key: String, query: HistoryQuery) -> @Sendable () throws -> Page {
        let request = state.withLockedValue { state in
            PageRequest(
                userKey: key,
                excludedSenders: state.blocks.separated(from: key),
                before: min(query.before ?? Int64.max, state.lastDelivered + 1),
                throughSequence: state.lastDelivered,
                limit: query.limit,
                words: query.words,
                directMessagesAfter: state.users[key]?.heldSince ?? 0,
                timeLimit: configuration.limits.queryTimeLimit
            )
        }
        let store = self.store
        return { try store.page(request) }
    }

    /// Where a file from `senderKey` to `destination` goes: "ALL" or a known user's name and
    /// key, refused as a direct message would be (unknown user, blocks either way).
    func fileDestination(_ destination: String, from senderKey: String) -> Result<(name: String, key: String), FileTransfer.Problem> {
        let key = UsernameRules.key(destination)
        if key == UsernameRules.key(ChatMessage.broadcastDestination) { return .success((ChatMessage.broadcastDestination, key)) }
        return state.withLockedValue { state in
            guard let recipient = state.users[key] else { return .failure(.init("File not sent: there is no user named \(destination).")) }
            if state.blocks.separated(from: senderKey).contains(key) {
                return .failure(.init("File not sent: you and \(recipient.name) block each other's messages."))
            }
            return .success((recipient.name, key))
        }
    }

    /// Which files a user may fetch, as things stand: read under the lock once, so that a
    /// listing of thousands of files takes it once rather than once per file.
    struct FileVisibility: Sendable {
        let key: String
        let separated: Set<String>
        let heldSinceTime: Int64

        /// Whether `file` is for everyone, for them or from them, and no block separates them
        /// from its sender.
        func allows(_ file: StoredFile) -> Bool {
            let toEveryone = file.toKey == UsernameRules.key(ChatMessage.broadcastDestination)
            guard toEveryone || file.toKey == key || file.fromKey == key else { return false }
            // Direct files of the name's past, before its current holder, are not theirs (one
            // for everyone stays public).
            let mine = file.fromKey == key || file.toKey == key
            if mine, file.time < heldSinceTime { return toEveryone }
            if file.fromKey == key { return true }
            return !separated.contains(file.fromKey)
        }
    }

    /// What the user `key` may fetch, now.
    func fileVisibility(for key: String) -> FileVisibility {
        state.withLockedValue { state in
            FileVisibility(key: key, separated: state.blocks.separated(from: key), heldSinceTime: state.users[key]?.heldSinceTime ?? 0)
        }
    }

    /// Whether the user `key` may fetch `file` (``FileVisibility/allows(_:)``).
    func mayFetch(_ file: StoredFile, key: String) -> Bool {
        let toEveryone = file.toKey == UsernameRules.key(ChatMessage.broadcastDestination)
        guard toEveryone || file.toKey == key || file.fromKey == key else { return false }
        return fileVisibility(for: key).allows(file)
    }

    /// Records a stored file durably (with the tick's other changes).
    func recordFile(_ file: StoredFile, connection: ClientConnection) {
        stage(.store(.file(file)), for: connection)
    }

    /// `connection`, logged in under `key`, has closed. Everyone else is told it left.
    func leave(_ connection: ClientConnection, key: String) {
        state.withLockedValue { state in
            guard state.presence.remove(connection, key: key) else { return }
            var user = state.users[key] ?? KnownUser(name: key, deliveredThrough: 0)
            user.deliveredThrough = state.lastDelivered
            // The name stays with this address, from now on (its reservation).
            user.address = connection.address
            user.lastSeen = configuration.clock.secondsSinceEpoch()
            state.users[key] = user
            stage(.store(.user(user)), for: connection)
            enqueueToEveryone(encode(Frame(usersLeft: [user.name])), except: nil, state: state)
        }
    }

    // MARK: - Messages

    enum SubmitOutcome: Sendable, Equatable {
        case accepted
        case rejected(String)
    }

    /// Accepts a message from the user `senderKey` on `connection` (SRC already checked):
    /// resolves DEST, checks blocks and stages it on the connection's loop. It gets its place
    /// in the order when the tick's batch is committed, and is delivered then.
    func submit(_ message: ChatMessage, senderKey: String, from connection: ClientConnection) -> SubmitOutcome {
        // The key is computed before the lock: the lock is held for the lookups only.
        let destinationKey = UsernameRules.key(message.destination)
        let outcome = state.withLockedValue { $0.accept(message, destinationKey: destinationKey, from: senderKey) }
        switch outcome {
        case .success(let accepted):
            // Encoded once, here, off the lock; every recipient shares the buffer.
            stage(.message(accepted, frame: encode(Frame(messages: [accepted]))), for: connection)
            return .accepted
        case .failure(let refusal):
            return .rejected(refusal.reason)
        }
    }

    struct SubmitRefusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Sends `frame` to `connection` after every message staged so far has been delivered,
    /// so that a command's answer never overtakes the messages typed before it.
    func deliverInOrder(_ frame: ByteBuffer, to connection: ClientConnection) {
        stage(.reply(frame, to: connection), for: connection)
    }

    // MARK: - Commit and delivery

    /// Stages `item` in the batch of `connection`'s event loop (call on that loop); the first
    /// item since the last commit schedules the next one, a gather window later (or when the
    /// tick's reading is done, without a window).
    func stage(_ item: TickBatch.Item, for connection: ClientConnection) {
        stage(item, in: batches[connection.outbox.index])
    }

    /// Stages changes that no connection made (the housekeeping's), in the first loop's batch.
    func stageMaintenance(_ operations: [StoreOperation]) {
        guard !operations.isEmpty else { return }
        let batch = batches[0]
        batch.eventLoop.execute {
            for operation in operations { self.stage(.store(operation), in: batch) }
        }
    }

    /// Stages `item` in `batch` (on its loop), scheduling the commit for the first item.
    private func stage(_ item: TickBatch.Item, in batch: TickBatch) {
        guard batch.add(item) else { return }
        // The gather window starts here rather than at delivery: the messages of a burst then
        // share one commit (a commit per tick took several, as a burst's messages arrive over
        // more than one tick), and the outboxes deliver at once after it, so the window is
        // spent once.
        let window = configuration.gatherWindow
        if window > .zero {
            batch.eventLoop.scheduleTask(in: window) { self.commit(batch) }
        } else {
            batch.eventLoop.execute { self.commit(batch) }
        }
    }

    /// How many batches have been committed so far; changes whenever anything happens.
    var commitCount: UInt64 { state.withLockedValue { $0.commits } }

    /// Commits a loop's batch in one transaction, then delivers it in order. Sequence numbers
    /// are given under the lock, so the order in the store is the order everyone sees.
    private func commit(_ batch: TickBatch) {
        let (items, openedAt) = batch.take()
        guard !items.isEmpty else { return }
        state.withLockedValue { state in
            state.commits &+= 1
            var operations: [StoreOperation] = []
            operations.reserveCapacity(items.count)
            var sequences: [Int64] = []
            for case .message(let message, _) in items {
                sequences.append(state.nextSequence)
                operations.append(.message(StoredMessage(sequence: state.nextSequence, message: message)))
                state.nextSequence += 1
            }
            for case .store(let operation) in items { operations.append(operation) }
            var failure: (any Error)?
            do {
                // After closeStore() nothing reaches the store: what is staged then is refused.
                guard !state.storeClosed else { throw StoreError.closed }
                try store.apply(operations)
            } catch {
                failure = error
                logger.error("Store write failed, \(sequences.count) messages not delivered: \(error)")
            }
            var nextSequence = sequences.makeIterator()
            for item in items {
                switch item {
                case .message(let message, let frame):
                    let sequence = nextSequence.next()!
                    let senderKey = UsernameRules.key(message.source)
                    guard failure == nil else {
                        if let sender = state.presence[senderKey] {
                            let error = "Message not sent: the server could not store it. Please try again."
                            sender.outbox.enqueue(encode(Frame(error: error)), to: sender, gatheringSince: openedAt)
                        }
                        continue
                    }
                    state.lastDelivered = sequence
                    if message.isBroadcast {
                        state.recentBroadcasts.append(StoredMessage(sequence: sequence, message: message))
                        deliverBroadcast(frame, from: senderKey, gatheringSince: openedAt, state: state)
                    } else {
                        deliverDirect(frame, message: message, senderKey: senderKey, gatheringSince: openedAt, state: state)
                    }
                case .reply(let frame, let connection):
                    connection.outbox.enqueue(frame, to: connection, gatheringSince: openedAt)
                case .store:
                    break
                }
            }
        }
    }

    /// Runs every commit the loops have scheduled so far (before the store closes).
    func commitStagedChanges() async {
        for batch in batches {
            try? await batch.eventLoop.submit { self.commit(batch) }.get()
        }
    }

    private func deliverBroadcast(_ frame: ByteBuffer, from senderKey: String, gatheringSince: NIODeadline, state: State) {
        state.forEachBroadcastGroup(from: senderKey) { loop, recipients in
            outboxes[loop].enqueue(frame, to: .many(recipients), gatheringSince: gatheringSince)
        }
    }

    private func deliverDirect(
        _ frame: ByteBuffer, message: ChatMessage, senderKey: String, gatheringSince: NIODeadline, state: State
    ) {
        let route = state.directRoute(to: UsernameRules.key(message.destination), from: senderKey)
        if let recipient = route.recipient { recipient.outbox.enqueue(frame, to: recipient, gatheringSince: gatheringSince) }
        guard let sender = route.echo else { return }
        sender.outbox.enqueue(frame, to: sender, gatheringSince: gatheringSince)
        if route.recipientOffline {
            let note = "\(message.destination) is offline; they will get your message when they next log in."
            sender.outbox.enqueue(encode(Frame(info: note)), to: sender, gatheringSince: gatheringSince)
        }
    }

    // MARK: - Shutdown

    /// Closes the store: no commit reaches it afterwards (a batch staged later fails as a write
    /// that could not be stored). Blocks: call off the cooperative threads, after
    /// ``commitStagedChanges()``.
    func closeStore() {
        state.withLockedValue { $0.storeClosed = true }
        do { try store.close() } catch { logger.error("Closing the store failed: \(error)") }
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
    private func enqueueToEveryone(_ frame: ByteBuffer, except excluded: ClientConnection?, state: State) {
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
