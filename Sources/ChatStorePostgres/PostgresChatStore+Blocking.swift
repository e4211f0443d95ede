public import ChatStore

extension PostgresChatStore {
    /// The store as the server calls it (``ChatStore``): each call waits, on the server's own
    /// thread, for the database's answer, at most `timeout`; past it the call throws and the
    /// server answers its client with an error (a message not stored is never delivered).
    public func blocking(timeout: Duration = .seconds(10)) -> Blocking {
        Blocking(store: self, timeout: timeout)
    }

    /// ``PostgresChatStore`` behind the server's synchronous ``ChatStore`` contract.
    public struct Blocking: ChatStore {
        public let store: PostgresChatStore
        public let timeout: Duration

        public func load() throws -> StoreSnapshot {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.load() }
        }

        public func recentBroadcasts(limit: Int) throws -> [StoredMessage] {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.recentBroadcasts(limit: limit) }
        }

        @discardableResult
        public func apply(_ operations: [StoreOperation]) throws -> [Int64] {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.commit(operations) }
        }

        public func history(_ request: HistoryRequest) throws -> History {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.history(request) }
        }

        public func page(_ request: PageRequest) throws -> Page {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.page(request) }
        }

        public func hasDirectMessages(to key: String, after: Int64) throws -> Bool {
            try BlockingBridge.run(timeout: timeout) { [store] in try await store.hasDirectMessages(to: key, after: after) }
        }

        public func close() throws {
            try BlockingBridge.run(timeout: timeout) { [store] in await store.close() }
        }
    }
}
