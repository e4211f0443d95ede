/// One window (irssi) or buffer (WeeChat): the room, a conversation with one user, or the
/// results of a search, each with its own scrollback and activity.
public struct ChatWindow: Sendable {
    /// What a window holds.
    public enum Kind: Sendable, Equatable {
        /// Window 1: broadcasts, joins and leaves, the connection's news.
        case room
        /// Direct messages with one user (the name as first seen).
        case query(String)
        /// /Search results, kept apart from live messages.
        case search
    }

    public let kind: Kind
    public internal(set) var scrollback: Scrollback
    /// Messages that arrived since the window was last shown.
    public internal(set) var unread = 0
    /// Whether one of those mentions the user or is a direct message to them.
    public internal(set) var isHighlighted = false
    var layoutCache = LayoutCache()
    /// Whether the view showed the oldest row at the last drawing: PgUp then loads more.
    var viewAtTop = false

    init(kind: Kind, clock: ClockFormat) {
        self.kind = kind
        // Conversations with one user keep less than the room: a peer can open many.
        scrollback = Scrollback(capacity: kind == .room ? 5000 : 2000, clock: clock)
    }

    /// The name in the window bar and the title: "room", the user's name, "search".
    public var name: String {
        switch kind {
        case .room: "room"
        case .query(let name): name
        case .search: "search"
        }
    }

    /// The user this window talks to, for a conversation.
    public var peer: String? {
        if case .query(let name) = kind { return name }
        return nil
    }

    /// Whether this is the conversation with `name` (names compare without case).
    func isQuery(with name: String) -> Bool {
        peer?.lowercased() == name.lowercased()
    }

    mutating func markRead() {
        unread = 0
        isHighlighted = false
    }
}
