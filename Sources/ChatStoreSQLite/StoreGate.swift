import ChatStore
import Foundation
import Synchronization

/// Admits the store's calls until the store closes, and lets it close only once none is under
/// way: GRDB's `DatabasePool.close()` is not safe against a read that starts meanwhile (a read
/// that has already looked up the reader pool goes on with a connection `close()` has closed,
/// and SQLite then works on freed memory: issue 23's signal 11 at SIGTERM).
///
/// Closing sets ``isClosing`` first, which stops the reads under way (``QueryGuard``), then
/// waits for every call to return; writes are never interrupted, they finish.
final class StoreGate: @unchecked Sendable {
    // @unchecked: `inFlight` and `closed` are read and written only with `condition` locked.
    private let condition = NSCondition()
    private var inFlight = 0
    private var closed = false
    /// Set when closing starts; read by the progress handler of every query, lock-free.
    private let closing = Atomic<Bool>(false)

    var isClosing: Bool { closing.load(ordering: .relaxed) }

    /// Runs `body` unless the store is closed or closing (then throws ``StoreError/closed``);
    /// closing waits for it to return.
    func pass<T>(_ body: () throws -> T) throws -> T {
        condition.lock()
        guard !closed else {
            condition.unlock()
            throw StoreError.closed
        }
        inFlight += 1
        condition.unlock()
        defer {
            condition.lock()
            inFlight -= 1
            if inFlight == 0 { condition.broadcast() }
            condition.unlock()
        }
        return try body()
    }

    /// Refuses every call from now on, stops the reads under way and waits until no call is
    /// under way. True the first time, false when the store was already closed.
    func close() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        closed = true
        closing.store(true, ordering: .relaxed)
        while inFlight > 0 { condition.wait() }
        return true
    }
}
