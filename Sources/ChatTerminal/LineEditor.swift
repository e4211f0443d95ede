/// The input line: a buffer of characters (grapheme clusters) with a cursor, Emacs-style
/// editing, a kill buffer, input history, and the horizontal scrolling of a line longer than
/// the screen. Pure state, no terminal.
public struct LineEditor: Sendable, Equatable {
    /// The text, one element per user-perceived character.
    public private(set) var characters: [Character] = []
    /// Position of the cursor: the index of the character it stands on (`count` at the end).
    public private(set) var cursor = 0
    /// Lines entered, oldest first.
    public private(set) var history: [String] = []
    /// Most lines kept in the history.
    public var historyLimit: Int
    /// Index in `history` while browsing it; `nil` when editing a new line.
    private var historyIndex: Int?
    /// The unfinished line put aside while browsing the history.
    private var draft: [Character] = []
    /// The text last killed, for yanking back (Ctrl-Y).
    private var killBuffer: [Character] = []
    /// First character shown when the line is wider than the screen.
    private var scrollStart = 0

    public init(historyLimit: Int = 500) {
        self.historyLimit = historyLimit
    }

    /// The whole line.
    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    // MARK: - Typing

    /// Inserts `text` at the cursor. Line breaks are kept (a pasted paragraph becomes one
    /// multi-line message); tabs become spaces, other control characters are dropped.
    public mutating func insert(_ text: String) {
        let cleaned = Self.clean(text)
        guard !cleaned.isEmpty else { return }
        let head = String(characters[..<cursor]) + cleaned
        let tail = String(characters[cursor...])
        // Re-segment: a combining mark typed after a letter joins it.
        let headCount = head.count
        characters = Array(head + tail)
        cursor = min(headCount, characters.count)
        leaveHistory()
    }

    static func clean(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            defer { previousWasCarriageReturn = scalar == "\r" }
            switch scalar.value {
            case 0x0D: result.unicodeScalars.append("\n")
            case 0x0A where previousWasCarriageReturn: continue
            case 0x0A: result.unicodeScalars.append("\n")
            case 0x09: result += "    "
            case 0x00..<0x20, 0x7F, 0x80..<0xA0: continue
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Replaces the whole line (completion, tests).
    public mutating func setText(_ text: String, cursor: Int? = nil) {
        characters = Array(text)
        self.cursor = min(max(cursor ?? characters.count, 0), characters.count)
    }

    /// Takes the line for sending: records it in the history and clears the editor.
    public mutating func submit(remember: Bool = true) -> String {
        let line = text
        if remember, !line.allSatisfy(\.isWhitespace), history.last != line {
            history.append(line)
            if history.count > historyLimit { history.removeFirst(history.count - historyLimit) }
        }
        characters = []
        cursor = 0
        scrollStart = 0
        historyIndex = nil
        draft = []
        return line
    }

    // MARK: - Moving

    public mutating func moveLeft() { cursor = max(0, cursor - 1) }
    public mutating func moveRight() { cursor = min(characters.count, cursor + 1) }
    public mutating func moveToStart() { cursor = 0 }
    public mutating func moveToEnd() { cursor = characters.count }

    /// To the start of the word before the cursor (Alt-B, Ctrl-Left).
    public mutating func moveWordLeft() {
        cursor = wordStart(before: cursor)
    }

    /// To the end of the word after the cursor (Alt-F, Ctrl-Right).
    public mutating func moveWordRight() {
        cursor = wordEnd(after: cursor)
    }

    // MARK: - Deleting

    /// Deletes the character before the cursor (Backspace).
    public mutating func deleteBackward() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
        leaveHistory()
    }

    /// Deletes the character under the cursor (Delete, Ctrl-D).
    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
        leaveHistory()
    }

    /// Kills from the cursor to the end of the line (Ctrl-K).
    public mutating func killToEnd() {
        kill(cursor..<characters.count)
    }

    /// Kills from the start of the line to the cursor (Ctrl-U).
    public mutating func killToStart() {
        kill(0..<cursor)
    }

    /// Kills the white-space-separated word before the cursor (Ctrl-W).
    public mutating func killWordBackward() {
        var start = cursor
        while start > 0, characters[start - 1].isWhitespace { start -= 1 }
        while start > 0, !characters[start - 1].isWhitespace { start -= 1 }
        kill(start..<cursor)
    }

    /// Kills to the end of the word after the cursor (Alt-D).
    public mutating func killWordForward() {
        kill(cursor..<wordEnd(after: cursor))
    }

    /// Inserts the text last killed (Ctrl-Y).
    public mutating func yank() {
        guard !killBuffer.isEmpty else { return }
        insert(String(killBuffer))
    }

    private mutating func kill(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        killBuffer = Array(characters[range])
        characters.removeSubrange(range)
        cursor = range.lowerBound
        leaveHistory()
    }

    // MARK: - History

    /// Shows the previous line of the history (Up). The line being typed is kept as a draft.
    public mutating func historyPrevious() {
        guard !history.isEmpty else { return }
        let index: Int
        if let current = historyIndex {
            guard current > 0 else { return }
            index = current - 1
        } else {
            draft = characters
            index = history.count - 1
        }
        historyIndex = index
        characters = Array(history[index])
        cursor = characters.count
    }

    /// Shows the next line of the history, or the draft after the last one (Down).
    public mutating func historyNext() {
        guard let current = historyIndex else { return }
        if current + 1 < history.count {
            historyIndex = current + 1
            characters = Array(history[current + 1])
        } else {
            historyIndex = nil
            characters = draft
            draft = []
        }
        cursor = characters.count
    }

    /// Editing a recalled line makes it a new line (the history entry stays as it was).
    private mutating func leaveHistory() {
        historyIndex = nil
    }

    // MARK: - Words

    private func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    private func wordStart(before position: Int) -> Int {
        var index = position
        while index > 0, !isWordCharacter(characters[index - 1]) { index -= 1 }
        while index > 0, isWordCharacter(characters[index - 1]) { index -= 1 }
        return index
    }

    private func wordEnd(after position: Int) -> Int {
        var index = position
        while index < characters.count, !isWordCharacter(characters[index]) { index += 1 }
        while index < characters.count, isWordCharacter(characters[index]) { index += 1 }
        return index
    }

    // MARK: - Horizontal scrolling

    /// What the input line shows in `width` columns.
    public struct Viewport: Sendable, Equatable {
        /// The characters shown (line breaks as "↵").
        public var text: String
        /// Column of the cursor, counted from the start of `text`.
        public var cursorColumn: Int
        /// Whether text is hidden to the left / to the right.
        public var hiddenBefore: Bool
        public var hiddenAfter: Bool

        public init(text: String, cursorColumn: Int, hiddenBefore: Bool, hiddenAfter: Bool) {
            self.text = text
            self.cursorColumn = cursorColumn
            self.hiddenBefore = hiddenBefore
            self.hiddenAfter = hiddenAfter
        }
    }

    /// How a character of the line is shown.
    static func glyph(_ character: Character) -> Character {
        character == "\n" ? "↵" : character
    }

    /// The part of the line to show in `width` columns, keeping the cursor visible: the window
    /// moves only as far as needed, and fills up again when text before it is deleted.
    public mutating func viewport(width: Int) -> Viewport {
        let width = max(width, 2)
        let widths = characters.map { DisplayWidth.of(Self.glyph($0)) }
        func span(_ range: Range<Int>) -> Int { widths[range].reduce(0, +) }
        // The cell under the cursor must fit too (a blank one at the end of the line).
        let cursorWidth = cursor < widths.count ? widths[cursor] : 1
        scrollStart = min(scrollStart, cursor, characters.count)
        // Keep a little context to the left when moving back past the window's edge.
        if cursor < scrollStart + 1, cursor > 0 {
            var start = cursor
            while start > 0, span(start - 1..<cursor) <= width / 4 { start -= 1 }
            scrollStart = min(scrollStart, start)
        }
        while scrollStart < cursor, span(scrollStart..<cursor) + cursorWidth > width { scrollStart += 1 }
        // Fill the window when there is room (after deletions or a jump to the end).
        let trailing = cursor == characters.count ? 1 : 0
        while scrollStart > 0, span(scrollStart - 1..<characters.count) + trailing <= width { scrollStart -= 1 }
        var end = scrollStart
        var used = 0
        while end < characters.count, used + widths[end] <= width {
            used += widths[end]
            end += 1
        }
        return Viewport(
            text: String(characters[scrollStart..<end].map(Self.glyph)),
            cursorColumn: span(scrollStart..<cursor),
            hiddenBefore: scrollStart > 0,
            hiddenAfter: end < characters.count
        )
    }
}
