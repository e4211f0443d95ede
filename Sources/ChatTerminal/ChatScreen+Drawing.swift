import ChatClient
import ChatProtocol

/// The screen as rows of styled text for a given terminal size.
extension ChatScreen {
    /// The screen for a terminal of `rows` × `columns` at time `now`.
    public mutating func compose(rows: Int, columns: Int, now: Int64) -> ScreenImage {
        let away = awayNames
        let longest = status.online.map { DisplayWidth.of(TerminalSanitizer.sanitize($0)) + (away.contains($0.lowercased()) ? 7 : 0) }.max() ?? 0
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
        let listRows = layout.userList.map { UserListPane.rows(status: status, away: awayNames, paletteSize: paletteSize, area: $0) }
        for index in 0..<layout.messages.height {
            var row = paneRows[index]
            if let listRows {
                row.spans = Self.padded(row.spans, to: layout.messages.width, style: row.fill) + listRows[index].spans
                row.fill = .plain
            }
            screen[layout.messages.top + index] = row
        }
        if let bar = layout.windowBar {
            screen[bar.top] = StatusBars.windows(self, width: bar.width)
        }
        screen[layout.status.top] = StatusBars.status(self, width: layout.status.width, now: now, clock: clock)
        let (inputRow, cursorColumn) = inputLine(width: layout.input.width)
        screen[layout.input.top] = inputRow
        return ScreenImage(rows: screen, cursor: (layout.input.top, cursorColumn))
    }

    /// The message pane: the rows that end `offset` rows above the newest, and the marker for
    /// new messages below when scrolled up.
    mutating func messageRows(_ area: ScreenLayout.Area) -> [ScreenRow] {
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
            var entryRows = layoutCache.rows(for: entry)
            // The match of a Ctrl-R search stands out.
            if entry.id == localSearch?.match {
                entryRows = entryRows.map { ScreenRow($0.spans.map { Span($0.text, .unreadMarker) }, fill: .unreadMarker) }
            }
            collected.append(contentsOf: entryRows.reversed())
        }
        if reachedStart {
            scrollback.clampOffset(maximum: collected.count - height)
        }
        windows[currentWindow].viewAtTop = reachedStart && scrollback.offset >= collected.count - height
        // `collected` runs newest first.
        let skip = scrollback.offset
        let visible = Array(collected.dropFirst(skip).prefix(height).reversed())
        var rows = visible.map { ScreenRow(TextWrapper.truncate($0.spans, width: area.width), fill: $0.fill) }
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

    mutating func inputLine(width: Int) -> (ScreenRow, Int) {
        let promptText: String
        if let secretPrompt = askingForSecret {
            // The whole question is in the line above; here only what it asks for, so that the
            // stars keep their room.
            let prompt = TextWrapper.truncate([Span(Self.shortPrompt(TerminalSanitizer.sanitize(secretPrompt)), .prompt)], width: max(width - 12, width / 2, 1))
            let promptWidth = prompt.reduce(0) { $0 + DisplayWidth.of($1.text) }
            // One * per character typed: the length shows, the password does not.
            let room = max(width - promptWidth - 1, 1)
            let shown = min(editor.characters.count, room)
            let row = ScreenRow(prompt + [Span(String(repeating: "*", count: shown), .input)])
            return (row, min(promptWidth + min(editor.cursor, room), max(width - 1, 0)))
        } else if let search = localSearch {
            let found = search.match == nil && !search.query.isEmpty ? " (not found)" : ""
            promptText = "Search" + found + ": "
            let prompt = TextWrapper.truncate([Span(promptText, .prompt)], width: max(width - 4, 1))
            let promptWidth = prompt.reduce(0) { $0 + DisplayWidth.of($1.text) }
            let query = TextWrapper.truncate([Span(TerminalSanitizer.sanitize(search.query), .input)], width: max(width - promptWidth - 1, 1))
            let queryWidth = query.reduce(0) { $0 + DisplayWidth.of($1.text) }
            return (ScreenRow(prompt + query), min(promptWidth + queryWidth, max(width - 1, 0)))
        } else if askingForUsername {
            promptText = "Username: "
        } else if let name = status.username {
            // In a conversation, the prompt says who the line goes to.
            let peer = windows[currentWindow].peer.map { " → " + TerminalSanitizer.sanitize($0) } ?? ""
            promptText = "[" + TerminalSanitizer.sanitize(name) + peer + "] "
        } else {
            promptText = "> "
        }
        let prompt = TextWrapper.truncate([Span(promptText, .prompt)], width: max(width - 4, 1))
        let promptWidth = prompt.reduce(0) { $0 + DisplayWidth.of($1.text) }
        let viewport = editor.viewport(width: max(width - promptWidth, 2))
        let row = ScreenRow(prompt + [Span(viewport.text, .input)])
        return (row, min(promptWidth + viewport.cursorColumn, max(width - 1, 0)))
    }

    /// Everyone away, by lowercased name: others who said so, and the user.
    var awayNames: Set<String> {
        var names = Set(awayUsers.keys)
        if awayReason != nil, let me = status.username { names.insert(me.lowercased()) }
        return names
    }

    /// "Password for alice (an empty line …): " → "Password for alice: ".
    static func shortPrompt(_ prompt: String) -> String {
        guard let open = prompt.range(of: " (") else { return prompt }
        return String(prompt[..<open.lowerBound]) + ": "
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

/// The chat commands' names, for completion: every command /Help lists (the operators' too).
enum ChatCommandNames {
    static let all: [String] = (ChatCommand.helpLines + ChatCommand.operatorHelpLines).compactMap { line in
        guard line.hasPrefix("/") else { return nil }
        return String(line.dropFirst().prefix { !$0.isWhitespace })
    }
}
