import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import PostgresNIO

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
        do {
            return try result.withLockedValue { $0! }.get()
        } catch let error as PSQLError {
            throw DatabaseProblem(error)
        }
    }
}

/// A PostgreSQL error as the server's log should show it: postgres-nio's own description is
/// deliberately blank ("Generic description..."); this says what the database said, and
/// never the query's values or the connection's password.
struct DatabaseProblem: Error, CustomStringConvertible {
    let description: String
    /// The database could not be reached or refused the connection (it is starting, shutting
    /// down, or does not let anyone in), as opposed to refusing a query.
    let isConnectionFailure: Bool

    init(_ error: PSQLError) {
        let state = error.serverInfo?[.sqlState]
        // 08: connection exceptions; 57P01-57P03: shutting down, crash recovery, starting up;
        // 55000 is what a database that does not allow connections answers.
        isConnectionFailure = state == nil || state!.hasPrefix("08") || state!.hasPrefix("57P") || state == "55000"
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            description = "PostgreSQL: \(message)\(state)"
        } else {
            description = "PostgreSQL connection: \(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
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
