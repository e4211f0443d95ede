public import ChatClient
import ChatProtocol

/// Everything the full-screen client shows and how it reacts to keys and to the engine: the
/// scrollback, the input line, the status, the user list. Pure state, no terminal: the
/// curses layer draws what ``compose(rows:columns:now:)`` returns.
public struct ChatScreen: Sendable {
    /// What the screen asks its owner to do.
    public enum Effect: Sendable, Equatable {
        /// Give this line to the engine.
        case send(String)
        /// Leave (Ctrl-C).
        case quit
        /// Ring the terminal bell.
        case bell
        /// Repaint the whole terminal (Ctrl-L).
        case repaint
    }

    public var editor = LineEditor()
    public private(set) var scrollback: Scrollback
    public private(set) var status: ClientStatus
    /// The user asked for the user list (F2, Alt-U); it shows when the screen is wide enough.
    public var showUserList: Bool
    /// Ring the bell for direct messages and mentions.
    public var bellEnabled: Bool
    /// Direct messages received since the user last sent something.
    public private(set) var unreadDirectMessages = 0
    /// The next line entered is the username.
    public private(set) var askingForUsername = false
    /// The server's welcome, shown once (not again after each reconnection).
    public private(set) var welcome: String?
    private var completion: Completion?
    /// Why the last reconnection attempt failed, so that the same reason is not repeated.
    private var lastFailedAttempt: String?
    private let clock: ClockFormat
    /// Colours in the theme's name palette.
    public var paletteSize: Int
    private var layoutCache = LayoutCache()
    /// The message pane's geometry at the last composition, for scrolling by pages.
    private var lastPane = (height: 20, width: 80)

    /// Commands the client runs itself, on top of the chat commands.
    public static let localCommands = ["Bell", "Clear"]
    /// Help for ``localCommands`` and the keys, appended to /Help.
    public static let helpLines = [
        "  /Bell [on|off] - ring the bell for direct messages and mentions",
        "  /Clear - clear the messages on this screen",
        "Keys:",
        "  PgUp/PgDn scroll · Tab completes names and commands",
        "  Up/Down recall earlier lines · Ctrl-A/E start/end · Alt-B/F words",
        "  Ctrl-K/U/W delete to end/start/word · F2 or Alt-U user list",
        "  Ctrl-L redraw · Ctrl-C quit",
    ]

    public init(status: ClientStatus, showUserList: Bool = true, bellEnabled: Bool = true, paletteSize: Int = 12, clock: ClockFormat = ClockFormat()) {
        self.status = status
        self.showUserList = showUserList
        self.bellEnabled = bellEnabled
        self.paletteSize = paletteSize
        self.clock = clock
        scrollback = Scrollback(clock: clock)
    }

    // MARK: - Keys

    /// Reacts to one key.
    public mutating func handle(_ key: Key) -> [Effect] {
        if key != .tab { completion = nil }
        switch key {
        case .text(let text), .paste(let text):
            editor.insert(text)
        case .enter:
            return submit()
        case .left, .ctrl("b"): editor.moveLeft()
        case .right, .ctrl("f"): editor.moveRight()
        case .home, .ctrl("a"): editor.moveToStart()
        case .end, .ctrl("e"): editor.moveToEnd()
        case .wordLeft, .alt("b"): editor.moveWordLeft()
        case .wordRight, .alt("f"): editor.moveWordRight()
        case .backspace, .ctrl("h"): editor.deleteBackward()
        case .delete, .ctrl("d"): editor.deleteForward()
        case .ctrl("k"): editor.killToEnd()
        case .ctrl("u"): editor.killToStart()
        case .ctrl("w"), .alt("\u{7F}"): editor.killWordBackward()
        case .alt("d"): editor.killWordForward()
        case .ctrl("y"): editor.yank()
        case .up, .ctrl("p"): editor.historyPrevious()
        case .down, .ctrl("n"): editor.historyNext()
        case .tab: complete()
        case .pageUp: scroll(by: max(lastPane.height - 2, 1))
        case .pageDown: scroll(by: -max(lastPane.height - 2, 1))
        case .function(2), .alt("u"): showUserList.toggle()
        case .ctrl("l"): return [.repaint]
        case .ctrl("c"): return [.quit]
        default: break
        }
        return []
    }

    private mutating func submit() -> [Effect] {
        let line = editor.submit()
        if askingForUsername {
            guard !line.allSatisfy(\.isWhitespace) else { return [] }
            askingForUsername = false
            return [.send(line)]
        }
        guard !line.allSatisfy(\.isWhitespace) else { return [] }
        unreadDirectMessages = 0
        scrollback.scrollToBottom()
        if let effects = runLocalCommand(line) { return effects }
        return [.send(line)]
    }

    /// `/Bell` and `/Clear`, which concern this screen only.
    private mutating func runLocalCommand(_ line: String) -> [Effect]? {
        guard line.hasPrefix("/") else { return nil }
        let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard let word = words.first?.lowercased() else { return nil }
        switch word {
        case "bell":
            switch words.dropFirst().first?.lowercased() {
            case "on"?: bellEnabled = true
            case "off"?: bellEnabled = false
            case nil: bellEnabled.toggle()
            default:
                addNotice("Usage: /Bell [on|off]")
                return []
            }
            addNotice("The bell for direct messages and mentions is \(bellEnabled ? "on" : "off").")
            return []
        case "clear":
            scrollback.clear()
            layoutCache.rows = [:]
            return []
        default:
            return nil
        }
    }

    private mutating func complete() {
        if var current = completion, current.result.text == editor.text, current.result.cursor == editor.cursor {
            current.advance()
            completion = current
        } else {
            let commands = ChatCommandNames.all + Self.localCommands
            completion = Completion(characters: editor.characters, cursor: editor.cursor, vocabulary: .init(commands: commands, users: completionUsers))
        }
        if let completion { editor.setText(completion.result.text, cursor: completion.result.cursor) }
    }

    /// Names to complete: online users first, then everyone seen; never yourself or the server.
    private var completionUsers: [String] {
        let me = status.username?.lowercased()
        let server = status.serverUser?.lowercased()
        let online = status.online.sorted { $0.lowercased() < $1.lowercased() }
        let others = status.everyoneSeen.filter { name in !online.contains(name) }.sorted { $0.lowercased() < $1.lowercased() }
        return (online + others).filter { $0.lowercased() != me && $0.lowercased() != server }
    }

    private mutating func scroll(by rows: Int) {
        scrollback.scroll(by: rows, maximum: Int.max)
    }

    // MARK: - Engine updates

    /// Takes in one update from the engine, received at `now` (seconds since the epoch).
    public mutating func apply(_ update: ClientUpdate, now: Int64) -> [Effect] {
        switch update {
        case .event(let event):
            return apply(event, now: now)
        case .connection(.reconnecting):
            // The status bar counts down to each attempt; a line per attempt is only noise.
            break
        case .connection(.attemptFailed(let reason, _)) where reason == lastFailedAttempt:
            // The same failure again: the status bar's countdown says enough.
            break
        case .connection(let event):
            switch event {
            case .attemptFailed(let reason, _): lastFailedAttempt = reason
            case .connected: lastFailedAttempt = nil
            default: break
            }
            let text = ConnectionEventText.describe(event, host: status.host, port: status.port)
            append(ConnectionEventText.isProblem(event) ? .error(text) : .notice(text), time: now)
        case .usernameNeeded(let reason):
            askingForUsername = true
            if let reason { append(.error(reason), time: now) }
            append(.notice("Choose a username: type it below and press Enter."), time: now)
        case .status(let status):
            self.status = status
            if status.phase == .online { askingForUsername = false }
        }
        return []
    }

    private mutating func apply(_ event: ChatEvent, now: Int64) -> [Effect] {
        switch event {
        case .welcome(let info, let online):
            // After a reconnection the same greeting again is noise; who is online is news.
            if let info, welcome == nil { append(.info(info), time: now) }
            welcome = info ?? welcome
            append(.info("Online (\(online.count)): " + online.joined(separator: ", ")), time: now)
        case .loginRefused(let reason):
            append(.error("Username refused: " + reason), time: now)
        case .history(let messages):
            for message in messages {
                append(.message(message, highlight(message)), time: message.timestamp)
            }
            append(.notice(messages.isEmpty ? "No earlier messages." : "End of earlier messages."), time: now)
        case .message(let message):
            let kind = highlight(message)
            append(.message(message, kind), time: message.timestamp)
            if kind == .directToMe { unreadDirectMessages += 1 }
            if kind.isAlert, bellEnabled { return [.bell] }
        case .joined(let name):
            append(.joined(name), time: now)
        case .left(let name):
            append(.left(name), time: now)
        case .info(let text):
            append(.info(text), time: now)
        case .error(let text):
            append(.error("Error from server: " + text), time: now)
        case .notice(let text):
            append(.notice(text), time: now)
        case .protocolProblem(let text):
            append(.error("Unexpected data from server: " + text), time: now)
        }
        return []
    }

    private func highlight(_ message: ChatMessage) -> MessageHighlight {
        MessageHighlight.of(message, username: status.username, serverUser: status.serverUser)
    }

    /// Adds a line of the client's own.
    public mutating func addNotice(_ text: String, now: Int64? = nil) {
        append(.notice(text), time: now ?? scrollback.entries.last?.time ?? 0)
    }

    private mutating func append(_ kind: ScrollbackEntry.Kind, time: Int64) {
        let layout = layoutCache.layout
        scrollback.append(kind, time: time) { entry in
            layout?.rows(for: entry).count ?? 1
        }
    }

    // MARK: - Drawing

    /// The screen for a terminal of `rows` × `columns` at time `now`.
    public mutating func compose(rows: Int, columns: Int, now: Int64) -> ScreenImage {
        let longest = status.online.map { DisplayWidth.of(TerminalSanitizer.sanitize($0)) }.max() ?? 0
        let layout = ScreenLayout(rows: rows, columns: columns, userListWanted: showUserList, longestName: longest)
        guard !layout.isTooSmall else {
            let text = TextWrapper.truncate([Span("Terminal too small", .barAlert)], width: columns)
            return ScreenImage(rows: (0..<rows).map { $0 == 0 ? ScreenRow(text) : ScreenRow() }, cursor: nil)
        }
        var screen: [ScreenRow] = Array(repeating: ScreenRow(), count: rows)
        if let title = layout.title {
            screen[title.top] = StatusBars.title(self, width: title.width)
        }
        let paneRows = messageRows(layout.messages)
        let listRows = layout.userList.map { UserListPane.rows(status: status, paletteSize: paletteSize, area: $0) }
        for index in 0..<layout.messages.height {
            var row = paneRows[index]
            if let listRows {
                row.spans = Self.padded(row.spans, to: layout.messages.width, style: row.fill) + listRows[index].spans
                row.fill = .plain
            }
            screen[layout.messages.top + index] = row
        }
        screen[layout.status.top] = StatusBars.status(self, width: layout.status.width, now: now, clock: clock)
        let (inputRow, cursorColumn) = inputLine(width: layout.input.width)
        screen[layout.input.top] = inputRow
        return ScreenImage(rows: screen, cursor: (layout.input.top, cursorColumn))
    }

    /// The message pane: the rows that end `offset` rows above the newest, and the marker for
    /// new messages below when scrolled up.
    private mutating func messageRows(_ area: ScreenLayout.Area) -> [ScreenRow] {
        lastPane = (area.height, area.width)
        let entryLayout = EntryLayout(width: area.width, nickWidth: EntryLayout.nickWidth(forScreenWidth: area.width), paletteSize: paletteSize, clock: clock)
        // A new geometry re-wraps everything; entries long gone leave the cache now and then.
        if layoutCache.layout != entryLayout || layoutCache.rows.count > 2 * scrollback.capacity {
            layoutCache = LayoutCache(layout: entryLayout)
        }
        let markerRows = scrollback.isScrolledUp ? 1 : 0
        let height = max(area.height - markerRows, 0)
        // Walk back from the newest entry until the view and everything below it is covered.
        var collected: [ScreenRow] = []
        var reachedStart = true
        for entry in scrollback.entries.reversed() {
            if collected.count >= scrollback.offset + height {
                reachedStart = false
                break
            }
            collected.append(contentsOf: layoutCache.rows(for: entry).reversed())
        }
        if reachedStart {
            scrollback.clampOffset(maximum: collected.count - height)
        }
        // `collected` runs newest first.
        let skip = scrollback.offset
        let visible = Array(collected.dropFirst(skip).prefix(height).reversed())
        var rows = visible.map { ScreenRow(TextWrapper.truncate($0.spans, width: area.width)) }
        rows += Array(repeating: ScreenRow(), count: max(height - rows.count, 0))
        if scrollback.isScrolledUp {
            let unseen = scrollback.unseenBelow
            let text = unseen > 0
                ? " ▼ \(unseen) new message\(unseen == 1 ? "" : "s") below · PgDn to read "
                : " ▼ more below · PgDn to return "
            rows.append(ScreenRow(TextWrapper.truncate([Span(text, .unreadMarker)], width: area.width), fill: .unreadMarker))
        } else if rows.count < area.height {
            rows += Array(repeating: ScreenRow(), count: area.height - rows.count)
        }
        return rows
    }

    private mutating func inputLine(width: Int) -> (ScreenRow, Int) {
        let promptText: String
        if askingForUsername {
            promptText = "Username: "
        } else if let name = status.username {
            promptText = "[" + TerminalSanitizer.sanitize(name) + "] "
        } else {
            promptText = "> "
        }
        let prompt = TextWrapper.truncate([Span(promptText, .prompt)], width: max(width - 4, 1))
        let promptWidth = prompt.reduce(0) { $0 + DisplayWidth.of($1.text) }
        let viewport = editor.viewport(width: max(width - promptWidth, 2))
        let row = ScreenRow(prompt + [Span(viewport.text, .input)])
        return (row, min(promptWidth + viewport.cursorColumn, max(width - 1, 0)))
    }

    static func padded(_ spans: [Span], to width: Int, style: Style) -> [Span] {
        let used = spans.reduce(0) { $0 + DisplayWidth.of($1.text) }
        return used < width ? spans + [Span(String(repeating: " ", count: width - used), style)] : spans
    }
}

/// Laid-out rows of scrollback entries for one geometry, so that each entry is wrapped once.
struct LayoutCache: Sendable {
    var layout: EntryLayout?
    var rows: [Int: [ScreenRow]] = [:]

    init(layout: EntryLayout? = nil) {
        self.layout = layout
    }

    mutating func rows(for entry: ScrollbackEntry) -> [ScreenRow] {
        if let cached = rows[entry.id] { return cached }
        let laidOut = layout?.rows(for: entry) ?? []
        rows[entry.id] = laidOut
        return laidOut
    }
}

/// The chat commands' names, for completion.
enum ChatCommandNames {
    static let all = ["Help", "Quit", "Name", "Block", "UnBlock", "Blocked", "DisplayUsers", "DisplayAllUsers"]
}
