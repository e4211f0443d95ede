public import ChatStore

extension PostgresChatStore {
    /// The store as the server calls it (``ChatStore``): each call waits, on the server's own
    /// thread, for the database's answer, at most `timeout`; past it the call throws and the
    /// server answers its client with an error (a message not stored is never delivered).
    /// During an outage (a call failed for want of the database) calls fail at once, but for
    /// one probe a second, until the database answers again (``OutageGate``).
    public func blocking(timeout: Duration = .seconds(10)) -> Blocking {
        Blocking(store: self, timeout: timeout, gate: OutageGate())
    }

    /// ``PostgresChatStore`` behind the server's synchronous ``ChatStore`` contract.
    public struct Blocking: ChatStore {
        public let store: PostgresChatStore
        public let timeout: Duration
        let gate: OutageGate

        public func load() throws -> StoreSnapshot {
            try gate.run(timeout: timeout) { [store] in try await store.load() }
        }

        public func recentBroadcasts(limit: Int) throws -> [StoredMessage] {
            try gate.run(timeout: timeout) { [store] in try await store.recentBroadcasts(limit: limit) }
        }

        @discardableResult
        public func apply(_ operations: [StoreOperation]) throws -> [Int64] {
            try gate.run(timeout: timeout) { [store] in try await store.commit(operations) }
        }

        public func history(_ request: HistoryRequest) throws -> History {
            try gate.run(timeout: timeout) { [store] in try await store.history(request) }
        }

        public func page(_ request: PageRequest) throws -> Page {
            try gate.run(timeout: timeout) { [store] in try await store.page(request) }
        }

        public func hasDirectMessages(to key: String, after: Int64) throws -> Bool {
            try gate.run(timeout: timeout) { [store] in try await store.hasDirectMessages(to: key, after: after) }
        }

        public func checkReachable(within limit: Duration) throws {
            _ = try BlockingBridge.run(timeout: min(limit, timeout)) { [store] in try await store.lastSequence() }
        }

        public func close() throws {
            // Not through the gate: closing needs no database, and must happen during an outage too.
            try BlockingBridge.run(timeout: timeout) { [store] in await store.close() }
        }
    }
}

extension PostgresChatStore.Blocking: SharedLog {
    public func begin(_ node: NodeIdentity, lease: Duration) throws -> Int64 {
        try gate.run(timeout: timeout) { [store] in try await store.begin(node, lease: lease) }
    }

    public func entries(after sequence: Int64, limit: Int) throws -> [LogEntry] {
        try gate.run(timeout: timeout) { [store] in try await store.entries(after: sequence, limit: limit) }
    }

    public func claim(_ user: KnownUser, on node: NodeIdentity) throws -> Int64? {
        try gate.run(timeout: timeout) { [store] in try await store.claim(user, on: node) }
    }

    public func renew(_ node: NodeIdentity, lease: Duration, applied: Int64) throws -> Set<String> {
        try gate.run(timeout: timeout) { [store] in try await store.renew(node, lease: lease, applied: applied) }
    }

    public func expireLapsedNodes() throws -> Int {
        try gate.run(timeout: timeout) { [store] in try await store.expireLapsedNodes() }
    }

    public func listen(_ wake: @escaping @Sendable () -> Void) -> any LogListening {
        Listening(task: store.listen(wake))
    }

    private struct Listening: LogListening {
        let task: Task<Void, Never>
        func stop() { task.cancel() }
    }
}
