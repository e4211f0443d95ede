import NIOCore

/// A token bucket: `rate` tokens per second accrue up to `burst`; an action that finds a token
/// may go ahead. A rate of 0 means unlimited.
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var updated: NIODeadline

    init(rate: Double, burst: Int, now: NIODeadline = .now()) {
        self.rate = rate
        self.burst = Double(max(1, burst))
        self.tokens = self.burst
        self.updated = now
    }

    var isUnlimited: Bool { rate <= 0 }

    /// Takes a token if one is there.
    mutating func take(now: NIODeadline = .now()) -> Bool {
        guard !isUnlimited else { return true }
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Takes a token even if there is none, going into debt (paid back before the next token).
    mutating func charge(now: NIODeadline = .now()) {
        guard !isUnlimited else { return }
        refill(now: now)
        tokens -= 1
    }

    /// Takes `amount` tokens even if there are fewer, going into debt (a cost known only
    /// afterwards, such as the time a request took).
    mutating func charge(_ amount: Double, now: NIODeadline = .now()) {
        guard !isUnlimited else { return }
        refill(now: now)
        tokens -= amount
    }

    /// Whether a token is available now.
    mutating func hasToken(now: NIODeadline = .now()) -> Bool {
        guard !isUnlimited else { return true }
        refill(now: now)
        return tokens >= 1
    }

    /// How long until a token is available.
    mutating func timeUntilToken(now: NIODeadline = .now()) -> TimeAmount {
        guard !isUnlimited else { return .zero }
        refill(now: now)
        guard tokens < 1 else { return .zero }
        return .nanoseconds(Int64(((1 - tokens) / rate * 1e9).rounded(.up)))
    }

    /// Whether the bucket is back to its full burst, so it can be forgotten and made anew.
    mutating func isFull(now: NIODeadline = .now()) -> Bool {
        guard !isUnlimited else { return true }
        refill(now: now)
        return tokens >= burst
    }

    private mutating func refill(now: NIODeadline) {
        let elapsed = Double((now - updated).nanoseconds) / 1e9
        if elapsed > 0 {
            tokens = min(burst, tokens + elapsed * rate)
            updated = now
        }
    }
}

