/// What one session's user may cost the server: the message rate, the invalid frames allowed
/// before a disconnect, and the time its expensive requests may take.
struct SessionBudgets {
    /// Messages the user may send (rate limit).
    private(set) var messages: TokenBucket
    /// The ``Hub/liveGeneration`` `messages` was made at: a newer one brings a new rate.
    private var messagesGeneration: Int
    /// Invalid frames the connection may send before it is disconnected.
    var errors: TokenBucket
    /// What the user's searches, history pages and file listings may cost the server.
    var requests: RequestBudget

    init(hub: Hub) {
        let limits = hub.configuration.limits
        messagesGeneration = hub.liveGeneration.load(ordering: .relaxed)
        let live = hub.liveSettings
        messages = TokenBucket(rate: live.messagesPerSecond, burst: live.messageBurst)
        errors = TokenBucket(rate: limits.errorsPerSecond, burst: limits.errorBurst)
        requests = RequestBudget(maximumInFlight: limits.requestsInFlight, perSecond: limits.requestTimePerSecond, burst: limits.requestTimeBurst)
    }

    /// Takes one message from the rate limit; false when none is left.
    mutating func takeMessage() -> Bool {
        messages.take()
    }

    /// Takes the message rate set since the budget was made (SIGHUP), starting full.
    mutating func refreshMessageRate(from hub: Hub) {
        let generation = hub.liveGeneration.load(ordering: .relaxed)
        guard generation != messagesGeneration else { return }
        messagesGeneration = generation
        let live = hub.liveSettings
        guard live.messagesPerSecond != messages.rate || Double(max(1, live.messageBurst)) != messages.burst else { return }
        messages = TokenBucket(rate: live.messagesPerSecond, burst: live.messageBurst)
    }

    /// Starts the message rate afresh from `settings`, as of `generation` (at login: a SIGHUP
    /// may have changed the rate since the connection was made).
    mutating func restartMessageRate(_ settings: LiveSettings, generation: Int) {
        messagesGeneration = generation
        messages = TokenBucket(rate: settings.messagesPerSecond, burst: settings.messageBurst)
    }
}
