import Foundation
public import NIOCore

/// Where the server reads the time for its timed rules (name reservations, login attempt
/// limits, idle uploads, expiring files and users). The system clock in production; tests
/// substitute one they move by hand, so that "after thirty days" needs no thirty-day wait.
public struct ServerClock: Sendable {
    /// The current time, monotonic: for rules that live in memory.
    public var now: @Sendable () -> NIODeadline
    /// Seconds since the Unix epoch: for times kept across restarts (when a name was last
    /// used, when a file was stored).
    public var secondsSinceEpoch: @Sendable () -> Int64

    public init(
        now: @escaping @Sendable () -> NIODeadline,
        secondsSinceEpoch: @escaping @Sendable () -> Int64 = ServerClock.systemSecondsSinceEpoch
    ) {
        self.now = now
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The system's wall clock, in seconds since the epoch.
    public static let systemSecondsSinceEpoch: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    /// The system's clocks.
    public static let system = ServerClock(now: { NIODeadline.now() })
}

/// "4 minutes 59 seconds", "1 second", "29 days 23 hours": a duration as people say it, rounded
/// up to the second (to the hour from a day on, to the minute from an hour on).
func describeDuration(_ amount: TimeAmount) -> String {
    let seconds = max(1, (amount.nanoseconds + 999_999_999) / 1_000_000_000)
    if seconds >= 3600 { return describeLongDuration(seconds: seconds) }
    let minutes = seconds / 60
    let rest = seconds % 60
    func unit(_ n: Int64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
    if minutes == 0 { return unit(rest, "second") }
    if rest == 0 { return unit(minutes, "minute") }
    return unit(minutes, "minute") + " " + unit(rest, "second")
}

/// "30 days", "2 days 5 hours", "3 hours 20 minutes": `seconds` (at least an hour) rounded up.
private func describeLongDuration(seconds: Int64) -> String {
    func unit(_ n: Int64, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
    if seconds >= 86_400 {
        let hours = (seconds + 3599) / 3600
        let days = hours / 24, rest = hours % 24
        return rest == 0 ? unit(days, "day") : unit(days, "day") + " " + unit(rest, "hour")
    }
    let minutes = (seconds + 59) / 60
    let hours = minutes / 60, rest = minutes % 60
    return rest == 0 ? unit(hours, "hour") : unit(hours, "hour") + " " + unit(rest, "minute")
}
