import Foundation
import NIOConcurrencyHelpers
import NIOPosix

/// Runs async work from a thread that may block, and waits for it.
///
/// The server calls a store from threads of its own (its commit pipeline's writer, its login
/// and request threads), never from an event loop or Swift's cooperative threads, so that the
/// embedded store can block on its disk. The PostgreSQL store's work is asynchronous
/// (postgres-nio); here the calling thread waits for it, while the work itself runs as a task
/// on the cooperative threads and postgres-nio's event loops, neither of which is blocked.
enum BlockingBridge {
    /// The work took longer than the time allowed; it was cancelled.
    struct TimedOut: Error, CustomStringConvertible {
        var limit: Duration
        var description: String {
            "the database did not answer within \(limit.components.seconds) seconds (is it running, and does it accept connections from here?)"
        }
    }

    static func run<Value: Sendable>(timeout: Duration, _ work: @escaping @Sendable () async throws -> Value) throws -> Value {
        precondition(MultiThreadedEventLoopGroup.currentEventLoop == nil, "a store call blocked an event loop")
        let done = DispatchSemaphore(value: 0)
        let result = NIOLockedValueBox<Result<Value, any Error>?>(nil)
        let task = Task {
            let outcome: Result<Value, any Error>
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            result.withLockedValue { $0 = outcome }
            done.signal()
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        if done.wait(timeout: .now() + seconds) == .timedOut {
            task.cancel()
            // The cancelled work still signals when it ends; its result is not waited for.
            throw TimedOut(limit: timeout)
        }
        return try result.withLockedValue { $0! }.get()
    }
}

/// Runs `work`, failing with ``BlockingBridge/TimedOut`` (and cancelling it) past `limit`:
/// postgres-nio's pool waits for a connection as long as it is asked to.
func withTimeLimit<Value: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
    try await withThrowingTaskGroup(of: Value.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw BlockingBridge.TimedOut(limit: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
