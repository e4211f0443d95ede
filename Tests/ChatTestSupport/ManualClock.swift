import ChatServer
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// A clock for the server's timed rules that moves only when a test says so.
public final class ManualClock: Sendable {
    private static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    private let current = NIOLockedValueBox(ManualClock.start)
    /// The wall clock's reading when the test began; it moves with `advance(by:)` too.
    private let startSeconds = Int64(Date().timeIntervalSince1970)

    public init() {}

    /// Moves the clock forward by `amount`.
    public func advance(by amount: TimeAmount) {
        current.withLockedValue { $0 = $0 + amount }
    }

    /// The clock to put in `ServerConfiguration.clock`.
    public var serverClock: ServerClock {
        ServerClock(
            now: { [current] in current.withLockedValue { $0 } },
            secondsSinceEpoch: { [current, startSeconds] in
                startSeconds + (current.withLockedValue { $0 } - ManualClock.start).nanoseconds / 1_000_000_000
            }
        )
    }
}
