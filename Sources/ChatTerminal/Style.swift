/// What a piece of text on screen is; the theme decides how that looks (colours, bold).
public enum Style: Sendable, Hashable {
    case plain
    case timestamp
    /// Another user's name, in their stable colour (an index into the theme's palette).
    case nick(Int)
    case ownNick
    /// The sender of a direct message to you or of a message that mentions you.
    case highlightNick
    /// The text of a direct message to you or of a message that mentions you.
    case highlightText
    /// "[DM]" and "[DM to bob]" tags.
    case directTag
    /// The server's pseudo-user (answers to commands).
    case serverNick
    /// The column rule between names and text.
    case separator
    /// Joins and leaves: shown quietly.
    case quiet
    case info
    case notice
    case error
    /// The title bar and the status bar.
    case bar
    case barDim
    case barAccent
    case barAlert
    /// The marker for new messages below while scrolled up.
    case unreadMarker
    case prompt
    case input
    case userListHeader
    case userListRule
}

/// A run of text in one style.
public struct Span: Sendable, Equatable {
    public var text: String
    public var style: Style

    public init(_ text: String, _ style: Style) {
        self.text = text
        self.style = style
    }
}

/// One screen row: spans drawn from the left, then the rest filled in `fill` style.
public struct ScreenRow: Sendable, Equatable {
    public var spans: [Span]
    public var fill: Style

    public init(_ spans: [Span] = [], fill: Style = .plain) {
        self.spans = spans
        self.fill = fill
    }

    /// The row's text without styles (tests, debugging).
    public var text: String { spans.map(\.text).joined() }

    /// Columns the spans take.
    public var width: Int { spans.reduce(0) { $0 + DisplayWidth.of($1.text) } }
}

/// A whole screen, ready to draw.
public struct ScreenImage: Sendable, Equatable {
    public var rows: [ScreenRow]
    /// Where the terminal's cursor goes (row, column).
    public var cursor: (row: Int, column: Int)?

    public init(rows: [ScreenRow], cursor: (row: Int, column: Int)?) {
        self.rows = rows
        self.cursor = cursor
    }

    public static func == (lhs: ScreenImage, rhs: ScreenImage) -> Bool {
        lhs.rows == rhs.rows && lhs.cursor?.row == rhs.cursor?.row && lhs.cursor?.column == rhs.cursor?.column
    }

    /// The screen's text, one line per row (tests, debugging).
    public var text: String { rows.map(\.text).joined(separator: "\n") }
}
