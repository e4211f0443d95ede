import ChatProtocol

/// The messages written to the server whose fate is not known yet, in the order they were
/// sent, so that those the server dropped for going too fast ("Slow down: N messages were not
/// sent") can be sent again rather than lost.
///
/// A server that echoes the user's messages (Chatterbox's does, in order) confirms each; one
/// not echoed while a later one was has not been delivered. When the server says it dropped
/// N, the most recent N of those not confirmed are the ones to send again: a flood drops the
/// tail of a burst, and whatever else was not confirmed was refused for another reason (its
/// ERROR said which).
struct UnconfirmedMessages {
    struct Entry {
        var item: SendPacer.Item
        /// The destination and content the echo will have.
        var destination: String
        var echoContent: String
        var sentAt: ContinuousClock.Instant
    }

    private(set) var entries: [Entry] = []
    /// Entries older than this are forgotten (a server that never echoes confirms nothing).
    let lifetime: Duration
    let capacity: Int

    init(lifetime: Duration = .seconds(30), capacity: Int = 512) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// `message` went out as `item`; `echoContent` is the content its echo will carry.
    mutating func sent(_ item: SendPacer.Item, message: ChatMessage, echoContent: String, now: ContinuousClock.Instant = .now) {
        entries.append(Entry(item: item, destination: message.destination.lowercased(), echoContent: echoContent, sentAt: now))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }

    /// An echo of one of the user's messages: confirms the first entry it matches. Returns
    /// whether it matched one.
    @discardableResult
    mutating func confirm(_ echo: ChatMessage) -> Bool {
        let destination = echo.destination.lowercased()
        guard let index = entries.firstIndex(where: { $0.destination == destination && $0.echoContent == echo.content }) else { return false }
        entries.remove(at: index)
        return true
    }

    /// Whether messages sent up to `instant` still wait for their echo.
    func waitsForEchoes(sentBefore instant: ContinuousClock.Instant) -> Bool {
        entries.contains { $0.sentAt <= instant }
    }

    /// The server dropped `count` messages, all sent before `instant`: takes out the ones to
    /// send again (the most recent `count` of those sent before then) and forgets the rest
    /// sent before then.
    mutating func takeDropped(_ count: Int, sentBefore instant: ContinuousClock.Instant) -> [SendPacer.Item] {
        let candidates = entries.filter { $0.sentAt <= instant }
        entries.removeAll { $0.sentAt <= instant }
        return candidates.suffix(count).map(\.item)
    }

    /// Forgets entries past their lifetime.
    mutating func expire(now: ContinuousClock.Instant = .now) {
        entries.removeAll { now - $0.sentAt > lifetime }
    }

    mutating func removeAll() {
        entries = []
    }
}
