import ChatClient
import ChatProtocol

/// Ctrl-R: an incremental search back through the window's scrollback.
public struct LocalSearch: Sendable, Equatable {
    /// What is searched for (case does not matter).
    public var query = ""
    /// The entry found (its id), or `nil`.
    public var match: Int?
    /// Where the view was, to go back to when the search is cancelled.
    var savedOffset: Int
}

/// Scrollback that reaches the past: PgUp at the top loads the older page from the server,
/// and Ctrl-R searches what the window holds.
extension ChatScreen {
    /// Messages per page loaded by PgUp.
    static let pageSize = 50

    /// PgUp: scrolls up, or, at the top already, asks the server for the page before.
    mutating func pageUp() -> [Effect] {
        let window = windows[currentWindow]
        if window.viewAtTop, window.kind != .search, !pagingPending, !historyExhausted, status.isOnline {
            pagingPending = true
            return [.send("/History \(Self.pageSize)")]
        }
        scroll(by: max(lastPane.height - 2, 1))
        return []
    }

    /// A page asked for by PgUp: each message goes above the oldest of its window (the
    /// conversation's, when open; the room's otherwise), and the view moves up a page.
    mutating func prependPage(_ messages: [ChatMessage], more: Bool) {
        pagingPending = false
        var byWindow: [Int: [(kind: ScrollbackEntry.Kind, time: Int64)]] = [:]
        for message in messages {
            let kind = highlight(message)
            var index = 0
            var shown = kind
            if kind == .directToMe || kind == .directFromMe {
                let peer = kind == .directToMe ? message.source : message.destination
                if let query = windows.firstIndex(where: { $0.isQuery(with: peer) }) {
                    index = query
                    shown = kind == .directToMe ? .ordinary : .own
                }
            }
            byWindow[index, default: []].append((.message(message, shown), message.timestamp))
        }
        if !more {
            historyExhausted = true
            let time = messages.first?.timestamp ?? windows[0].scrollback.entries.first?.time ?? lastNow
            byWindow[0, default: []].insert((.notice("The beginning of the history."), time), at: 0)
        }
        for (index, older) in byWindow {
            windows[index].scrollback.prepend(older)
        }
        if byWindow[currentWindow] != nil { scroll(by: max(lastPane.height - 2, 1)) }
    }

    // MARK: - Ctrl-R

    /// Keys while searching; `nil` when the key ends the search and should act as usual.
    mutating func handleSearchKey(_ key: Key) -> [Effect]? {
        guard var search = localSearch else { return nil }
        switch key {
        case .text(let text), .paste(let text):
            search.query += text.filter { !$0.isNewline }
            localSearch = search
            findMatch(before: nil)
        case .backspace, .ctrl("h"):
            guard !search.query.isEmpty else { return [] }
            search.query.removeLast()
            localSearch = search
            findMatch(before: nil)
        case .ctrl("r"), .up:
            findMatch(before: search.match)
        case .enter:
            // Stay where the match is.
            localSearch = nil
        case .escape, .ctrl("g"), .ctrl("c"):
            scrollback.setOffset(search.savedOffset)
            localSearch = nil
        default:
            localSearch = nil
            return nil
        }
        return []
    }

    mutating func startSearch() {
        localSearch = LocalSearch(savedOffset: scrollback.offset)
    }

    /// Finds the newest entry containing the query older than `before` (the newest of all
    /// when `nil`) and scrolls it into view; keeps the last match when there is none older.
    mutating func findMatch(before: Int?) {
        guard var search = localSearch else { return }
        let needle = search.query.lowercased()
        guard !needle.isEmpty else {
            search.match = nil
            localSearch = search
            scrollback.setOffset(search.savedOffset)
            return
        }
        let entries = scrollback.entries
        var index = entries.count - 1
        if let before, let position = entries.lastIndex(where: { $0.id == before }) { index = position - 1 }
        while index >= 0 {
            if Self.text(of: entries[index]).lowercased().contains(needle) { break }
            index -= 1
        }
        guard index >= 0 else {
            if before == nil {
                search.match = nil
                localSearch = search
            }
            return
        }
        search.match = entries[index].id
        localSearch = search
        // The rows below the match, so that it shows a little above the bottom.
        var below = 0
        for entry in entries[(index + 1)...] { below += layoutCache.rows(for: entry).count }
        scrollback.setOffset(max(below - lastPane.height / 3, 0))
    }

    /// The searchable text of an entry.
    static func text(of entry: ScrollbackEntry) -> String {
        switch entry.kind {
        case .message(let message, _), .pastMessage(let message): message.source + " " + message.content
        case .joined(let name), .left(let name): name
        case .info(let text), .notice(let text), .error(let text), .dayChanged(let text): text
        }
    }
}
