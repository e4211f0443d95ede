import NIOConcurrencyHelpers
import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// The outcome of a future an `EmbeddedEventLoop` has already completed, read without
    /// blocking. The embedded tests stay synchronous because an embedded loop may only be used
    /// on the thread that made it (an `await` may resume elsewhere); `wait()` on a future that
    /// a bug left pending would block a thread of the cooperative pool for good, while this
    /// fails the test at once.
    func completedValue() throws -> Value {
        let outcome = NIOLockedValueBox<Result<Value, any Error>?>(nil)
        // On the embedded loop's own thread a completed future runs its callback inline.
        whenComplete { result in outcome.withLockedValue { $0 = result } }
        guard let result = outcome.withLockedValue({ $0 }) else { throw FutureStillPending() }
        return try result.get()
    }
}

/// A future the test expected to be complete was not.
struct FutureStillPending: Error, CustomStringConvertible {
    var description: String { "the future is still pending: nothing completed it" }
}
