import ChatStore
import NIOCore

/// The newest broadcasts delivered, kept by the hub for logins: every login of a storm wants
/// the same ones, so they come from here instead of the store (``BroadcastWindow``).
struct RecentBroadcasts {
    /// Broadcasts kept for a login replay of `historyLimit`: the replay, and one more to tell
    /// whether there are older ones. At most 5,001: each login copies the window under the
    /// hub's lock, and beyond it logins read their broadcasts from the store as before.
    static func capacity(forHistoryLimit historyLimit: Int) -> Int {
        min(historyLimit, 5_000) + 1
    }

    private let capacity: Int
    private var messages: CircularBuffer<StoredMessage>
    /// Whether `messages` holds every broadcast ever stored.
    private var reachesBeginning: Bool

    /// Starts from the store's newest broadcasts, oldest first, as many as it has up to the
    /// capacity: fewer means they are all there are. `nil`: nothing known yet, so the window
    /// reaches back far enough only once it is full.
    init(historyLimit: Int, stored: [StoredMessage]?) {
        let capacity = Self.capacity(forHistoryLimit: historyLimit)
        self.capacity = capacity
        messages = CircularBuffer((stored ?? []).suffix(capacity))
        reachesBeginning = stored.map { $0.count < capacity } ?? false
    }

    /// Keeps `broadcast`, just delivered, forgetting the oldest when full.
    mutating func append(_ broadcast: StoredMessage) {
        if messages.count == capacity {
            messages.removeFirst()
            reachesBeginning = false
        }
        messages.append(broadcast)
    }

    /// A copy for a login's history request.
    var window: BroadcastWindow {
        BroadcastWindow(messages: Array(messages), reachesBeginning: reachesBeginning)
    }
}
