import ChatProtocol

/// The user's own messages shown as soon as they were sent, for servers that may not send them
/// back (the protocol does not say a server must): when such a server does echo one, the
/// echo is recognised here and not shown a second time.
///
/// A bounded multiset keyed by destination (case-insensitive: servers may respell it) and
/// content (timestamps may be rewritten): two identical lines sent are two entries.
struct LocalEchoes {
    private struct Key: Hashable {
        var destination: String
        var content: String

        init(_ message: ChatMessage) {
            destination = message.destination.lowercased()
            content = message.content
        }
    }

    private var counts: [Key: Int] = [:]
    private var order: [Key] = []
    /// Beyond this many unmatched lines the oldest are forgotten: a server that never echoes
    /// must not make the set grow for ever.
    let capacity: Int

    init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// `message` was shown when sent.
    mutating func shown(_ message: ChatMessage) {
        let key = Key(message)
        counts[key, default: 0] += 1
        order.append(key)
        if order.count > capacity { forget(order.removeFirst()) }
    }

    /// Whether `message` (from the user) is the echo of one already shown; consumes it.
    mutating func isEcho(_ message: ChatMessage) -> Bool {
        let key = Key(message)
        guard counts[key] != nil else { return false }
        forget(key)
        if let index = order.firstIndex(of: key) { order.remove(at: index) }
        return true
    }

    private mutating func forget(_ key: Key) {
        guard let count = counts[key] else { return }
        counts[key] = count > 1 ? count - 1 : nil
    }
}
