import ChatProtocol

/// The messages the user has already been shown, so that the history a server replays after a
/// reconnection shows only what was missed.
///
/// A multiset of the most recent messages: two identical messages (same sender, recipient,
/// second and text) count twice, so a replay hides exactly as many copies as were seen.
struct SeenMessages {
    private var counts: [ChatMessage: Int] = [:]
    private var order: [ChatMessage] = []
    private var start = 0
    let capacity: Int

    init(capacity: Int = 5000) {
        self.capacity = capacity
    }

    mutating func record(_ message: ChatMessage) {
        counts[message, default: 0] += 1
        order.append(message)
        if order.count - start > capacity {
            forget(order[start])
            start += 1
            // Compact now and then rather than shifting the array on every message.
            if start > capacity {
                order.removeFirst(start)
                start = 0
            }
        }
    }

    /// Whether `message` was seen and not yet matched by an earlier replayed copy; consumes
    /// one seen copy when it was.
    mutating func consumeIfSeen(_ message: ChatMessage) -> Bool {
        guard counts[message] != nil else { return false }
        forget(message)
        return true
    }

    private mutating func forget(_ message: ChatMessage) {
        guard let count = counts[message] else { return }
        counts[message] = count > 1 ? count - 1 : nil
    }
}
