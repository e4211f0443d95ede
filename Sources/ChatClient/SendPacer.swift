import ChatProtocol

/// Holds the messages to send and lets them go no faster than the server accepts them, so
/// that a burst (the lines typed while disconnected, a pasted list, a script's input) is
/// never cut off by the server's flood control.
///
/// The rate is the server's advertised one (`LIMITS` in the login acceptance, PROTOCOL.md)
/// or, for servers that advertise none, the defaults of Chatterbox's server (10 messages per
/// second, bursts of 20). Some is kept in hand (a quarter of the burst, a tenth of the rate)
/// so that network jitter and a busy server, which can bunch messages sent apart, do not
/// empty the server's bucket before ours.
struct SendPacer {
    /// One line waiting to go out, as the frame it became.
    struct Item {
        var line: String
        var frame: Frame
        /// Typed while disconnected (counted in the report once they are all sent).
        var wasQueued: Bool
        /// How many times it has been sent (more than once when the server dropped it).
        var attempts = 1
    }

    /// The rate assumed when the server advertises none.
    static let defaultRate = 10.0
    static let defaultBurst = 20
    /// The share of the server's burst and rate kept in hand.
    static let burstShare = 0.75
    static let rateShare = 0.9

    /// The burst used for a server's `burst`.
    static func usableBurst(_ burst: Int) -> Double {
        max(1, (Double(burst) * burstShare).rounded(.down))
    }

    private(set) var waiting: [Item] = []
    private var rate: Double
    private var burst: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant
    /// No sending before this (after the server said to slow down).
    private var pausedUntil: ContinuousClock.Instant?

    init(now: ContinuousClock.Instant = .now) {
        rate = Self.defaultRate * Self.rateShare
        burst = Self.usableBurst(Self.defaultBurst)
        tokens = burst
        updated = now
    }

    /// Whether the pacer lets everything through at once (a server without a limit).
    var isUnlimited: Bool { rate <= 0 }

    /// Starts afresh for a new login: a full bucket at `rate` (0: unlimited) and `burst`.
    mutating func reset(rate: Double, burst: Int, now: ContinuousClock.Instant = .now) {
        self.rate = rate * Self.rateShare
        self.burst = Self.usableBurst(burst)
        tokens = self.burst
        updated = now
        pausedUntil = nil
    }

    /// Goes on at `rate` and `burst` (the server said what its limit is), keeping the
    /// tokens there are.
    mutating func adopt(rate: Double, burst: Int) {
        self.rate = rate * Self.rateShare
        self.burst = Self.usableBurst(burst)
        tokens = min(tokens, self.burst)
    }

    /// Halves the rate (a server dropped messages without saying its limit).
    mutating func slowDown() {
        guard !isUnlimited else {
            adopt(rate: Self.defaultRate / 2, burst: Self.defaultBurst / 2)
            return
        }
        rate /= 2
    }

    mutating func append(_ item: Item) {
        waiting.append(item)
    }

    /// Puts `items` back at the front (messages the server dropped, to send again first).
    mutating func prepend(_ items: [Item]) {
        waiting.insert(contentsOf: items, at: 0)
    }

    /// Everything still waiting, removed (the connection was lost).
    mutating func takeAll() -> [Item] {
        defer { waiting = [] }
        return waiting
    }

    /// The next item if it may go now (taking a token), else `nil`.
    mutating func next(now: ContinuousClock.Instant = .now) -> Item? {
        guard !waiting.isEmpty, delay(now: now) == nil else { return nil }
        if !isUnlimited { tokens -= 1 }
        return waiting.removeFirst()
    }

    /// How long until the next item may go; `nil` when it may go now or nothing waits.
    mutating func delay(now: ContinuousClock.Instant = .now) -> Duration? {
        guard !waiting.isEmpty else { return nil }
        if let pausedUntil, now < pausedUntil { return pausedUntil - now }
        pausedUntil = nil
        guard !isUnlimited else { return nil }
        refill(now: now)
        guard tokens < 1 else { return nil }
        return .nanoseconds(Int64(((1 - tokens) / rate * 1e9).rounded(.up)))
    }

    /// The server dropped messages: nothing goes for `duration`, and the bucket starts empty
    /// afterwards (the server's is).
    mutating func pause(for duration: Duration, now: ContinuousClock.Instant = .now) {
        pausedUntil = now + duration
        tokens = 0
        updated = now + duration
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        guard now > updated else { return }
        let elapsed = now - updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + seconds * rate)
        updated = now
    }
}
