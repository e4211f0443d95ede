/// When the client tries again after losing the connection: exponential backoff, capped.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Whether the client reconnects at all.
    public var isEnabled: Bool
    /// The wait before the first attempt after a loss.
    public var initialDelay: Duration
    /// The longest wait between attempts.
    public var maximumDelay: Duration
    /// Up to this fraction of each wait is taken off at random, so that many clients of a
    /// restarted server do not all come back in the same instant.
    public var jitter: Double

    public init(initialDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(30), jitter: Double = 0.2) {
        self.isEnabled = true
        self.initialDelay = initialDelay
        self.maximumDelay = max(initialDelay, maximumDelay)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// Never reconnect: losing the connection ends the client.
    public static let never: ReconnectPolicy = {
        var policy = ReconnectPolicy()
        policy.isEnabled = false
        return policy
    }()

    /// Reconnect after half a second, doubling up to 30 seconds.
    public static let standard = ReconnectPolicy()

    /// The wait before attempt number `attempt` (1 for the first after a loss), before jitter.
    public func delay(beforeAttempt attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(attempt, 1) {
            delay *= 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }

    /// The wait with jitter applied; `random` is in `0...1`.
    public func jitteredDelay(beforeAttempt attempt: Int, random: Double) -> Duration {
        delay(beforeAttempt: attempt) * (1 - jitter * min(max(random, 0), 1))
    }
}
