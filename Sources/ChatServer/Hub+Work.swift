import ChatProtocol
import ChatStore
import NIOCore

/// Work that blocks (password checks, history, pages and searches, file I/O), on the login
/// threads or the request threads: never on an event loop.
extension Hub {
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
}
