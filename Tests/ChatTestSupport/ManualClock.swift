import ChatServer
import NIOConcurrencyHelpers
import NIOCore

/// A clock for the server's timed rules that moves only when a test says so.
public final class ManualClock: Sendable {
    private let current = NIOLockedValueBox(NIODeadline.uptimeNanoseconds(1_000_000_000_000))

    public init() {}

    /// Moves the clock forward by `amount`.
    public func advance(by amount: TimeAmount) {
        current.withLockedValue { $0 = $0 + amount }
    }

    /// The clock to put in `ServerConfiguration.clock`.
    public var serverClock: ServerClock {
        ServerClock(now: { [current] in current.withLockedValue { $0 } })
    }
}
