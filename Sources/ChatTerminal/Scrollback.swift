public import ChatProtocol

/// One item of the conversation as the screen keeps it (before it is laid out in rows).
public struct ScrollbackEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case message(ChatMessage, MessageHighlight)
        /// A message of a /History page or of search results: old, drawn dimmed and dated in
        /// a block of its own so that it cannot pass for a new one.
        case pastMessage(ChatMessage)
        case joined(String)
        case left(String)
        /// INFO from the server and other neutral news.
        case info(String)
        /// Answers of the client itself.
        case notice(String)
        case error(String)
        /// The local date differs from the previous entry's: the date, spelled out.
        case dayChanged(String)
    }

    /// Unique and increasing: the key of the entry's rows in the layout cache.
    public let id: Int
    /// Seconds since the epoch: when it was sent (messages) or shown (everything else).
    public let time: Int64
    public let kind: Kind
}

/// The conversation kept on screen: a bounded list of entries, and how far the view is
/// scrolled up from the newest, in rows.
public struct Scrollback: Sendable {
    public private(set) var entries: [ScrollbackEntry] = []
    /// Most entries kept; the oldest go first.
    public let capacity: Int
    /// Rows between the bottom of the view and the newest row; 0 follows new messages.
    public private(set) var offset = 0
    /// Entries that arrived below the view while scrolled up.
    public private(set) var unseenBelow = 0
    private var nextID = 0
    private var lastDay: Int64?
    private let clock: ClockFormat

    public init(capacity: Int = 5000, clock: ClockFormat = ClockFormat()) {
        self.capacity = capacity
        self.clock = clock
    }

    public var isScrolledUp: Bool { offset > 0 }

    /// Adds an entry (after a line naming the date when the date changed). `rows` tells how
    /// many rows an entry takes, so that a view scrolled up stays where it is.
    public mutating func append(_ kind: ScrollbackEntry.Kind, time: Int64, rows: (ScrollbackEntry) -> Int) {
        let day = clock.day(time)
        // History can go back in time after a line stamped now: any change of date is marked.
        if let lastDay, day != lastDay {
            add(.dayChanged(clock.date(time)), time: time, rows: rows, counts: false)
        }
        lastDay = day
        add(kind, time: time, rows: rows, counts: true)
    }

    private mutating func add(_ kind: ScrollbackEntry.Kind, time: Int64, rows: (ScrollbackEntry) -> Int, counts: Bool) {
        let entry = ScrollbackEntry(id: nextID, time: time, kind: kind)
        nextID += 1
        entries.append(entry)
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        if offset > 0 {
            offset += rows(entry)
            if counts { unseenBelow += 1 }
        }
    }

    /// Puts older entries above the oldest (a page of history loaded by PgUp), each date
    /// named, the view staying where it is. Beyond the capacity the oldest are left out.
    public mutating func prepend(_ older: [(kind: ScrollbackEntry.Kind, time: Int64)]) {
        let room = max(capacity - entries.count, 0)
        var added: [ScrollbackEntry] = []
        var day: Int64?
        for item in older.suffix(room) {
            let itemDay = clock.day(item.time)
            if itemDay != day {
                added.append(ScrollbackEntry(id: nextID, time: item.time, kind: .dayChanged(clock.date(item.time))))
                nextID += 1
                day = itemDay
            }
            added.append(ScrollbackEntry(id: nextID, time: item.time, kind: item.kind))
            nextID += 1
        }
        // The first entry already there gets its date when it is another day's.
        if let first = entries.first, let day, clock.day(first.time) != day {
            if case .dayChanged = first.kind {} else {
                added.append(ScrollbackEntry(id: nextID, time: first.time, kind: .dayChanged(clock.date(first.time))))
                nextID += 1
            }
        }
        entries.insert(contentsOf: added, at: 0)
        if lastDay == nil { lastDay = day }
    }

    /// Shows the view `rows` up from the newest row (a search match).
    public mutating func setOffset(_ rows: Int) {
        offset = max(rows, 0)
        if offset == 0 { unseenBelow = 0 }
    }

    /// Scrolls up (positive) or down (negative) by `rows`; `maximum` is the largest useful
    /// offset (total rows minus the view's height).
    public mutating func scroll(by rows: Int, maximum: Int) {
        offset = min(max(offset + rows, 0), max(maximum, 0))
        if offset == 0 { unseenBelow = 0 }
    }

    /// Caps the offset once the layout knows how many rows there are.
    public mutating func clampOffset(maximum: Int) {
        if offset > maximum { offset = max(maximum, 0) }
        if offset == 0 { unseenBelow = 0 }
    }

    public mutating func scrollToBottom() {
        offset = 0
        unseenBelow = 0
    }

    /// Forgets every entry (/Clear).
    public mutating func clear() {
        entries = []
        offset = 0
        unseenBelow = 0
    }
}
