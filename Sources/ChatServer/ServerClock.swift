public import NIOCore

/// Where the server reads the time for its timed rules (name reservations, login attempt
/// limits). The system clock in production; tests substitute one they move by hand, so that
/// "after five minutes" needs no five-minute wait.
public struct ServerClock: Sendable {
    /// The current time.
    public var now: @Sendable () -> NIODeadline

    public init(now: @escaping @Sendable () -> NIODeadline) {
        self.now = now
    }

    /// The monotonic system clock.
    public static let system = ServerClock(now: { NIODeadline.now() })
}

/// "4 minutes 59 seconds", "1 second": a duration as people say it, rounded up to the second.
func describeDuration(_ amount: TimeAmount) -> String {
    let seconds = max(1, (amount.nanoseconds + 999_999_999) / 1_000_000_000)
    let minutes = seconds / 60
    let rest = seconds % 60
    func unit(_ n: Int64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
    if minutes == 0 { return unit(rest, "second") }
    if rest == 0 { return unit(minutes, "minute") }
    return unit(minutes, "minute") + " " + unit(rest, "second")
}
