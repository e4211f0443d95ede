import ChatClient
import ChatProtocol

/// Lays out one scrollback entry as screen rows, WeeChat-style: time, the name right-aligned in
/// a fixed column, a rule, then the text, wrapped under itself. Continuation rows leave the
/// time and name blank, so a message can never pass for a line of its own, whatever its text
/// contains. Everything from the network is sanitised here.
public struct EntryLayout: Sendable, Equatable {
    /// Columns for the whole row.
    public var width: Int
    /// Columns of the name column.
    public var nickWidth: Int
    /// How many colours the theme has for names.
    public var paletteSize: Int
    public var clock: ClockFormat

    public init(width: Int, nickWidth: Int, paletteSize: Int, clock: ClockFormat) {
        self.width = width
        self.nickWidth = nickWidth
        self.paletteSize = max(paletteSize, 1)
        self.clock = clock
    }

    public static func == (lhs: EntryLayout, rhs: EntryLayout) -> Bool {
        lhs.width == rhs.width && lhs.nickWidth == rhs.nickWidth && lhs.paletteSize == rhs.paletteSize
            && lhs.clock.showsSeconds == rhs.clock.showsSeconds
    }

    /// A name column that leaves room for text: 8 to 12 columns.
    public static func nickWidth(forScreenWidth width: Int) -> Int {
        min(12, max(8, width / 7))
    }

    /// A user's name as shown in the name column. A name without a single letter or digit
    /// (a user may call themselves "-->") is quoted, so that it never looks like the label of
    /// a join, a leave or a notice.
    static func displayName(_ name: String) -> String {
        let clean = TerminalSanitizer.sanitize(name)
        guard !clean.contains(where: { $0.isLetter || $0.isNumber }) else { return clean }
        return "\"" + clean + "\""
    }

    /// Columns before the text: "14:05 " + name column + " │ ".
    public var textColumn: Int { clock.timeWidth + 1 + nickWidth + 3 }

    public func rows(for entry: ScrollbackEntry) -> [ScreenRow] {
        var time = clock.time(entry.time)
        if case .pastMessage(let message) = entry.kind { time = clock.time(message.timestamp) }
        var (label, labelStyle, body) = parts(of: entry)
        // A name wider than the column is cut with an ellipsis, keeping the text aligned, and
        // written whole before the text: two long names must never look alike.
        if DisplayWidth.of(label) > nickWidth {
            body.insert(Span(label + " ", labelStyle), at: 0)
            let cut = TextWrapper.truncate([Span(label, labelStyle)], width: nickWidth - 1).map(\.text).joined()
            label = cut + "…"
        }
        let padding = String(repeating: " ", count: max(nickWidth - DisplayWidth.of(label), 0))
        let first: [Span] = [Span(time, .timestamp), Span(" " + padding, .plain), Span(label, labelStyle), Span(" │ ", .separator)]
        let firstIndent = clock.timeWidth + 1 + padding.count + DisplayWidth.of(label) + 3
        let textWidth = max(width - textColumn, 8)
        let wrapped = TextWrapper.wrap(body, width: textWidth, firstWidth: max(width - firstIndent, 8))
        let indent = Span(String(repeating: " ", count: clock.timeWidth + 1 + nickWidth) + " │ ", .separator)
        return wrapped.enumerated().map { index, spans in
            ScreenRow((index == 0 ? first : [indent]) + spans)
        }
    }

    /// The label for the name column, its style, and the text.
    func parts(of entry: ScrollbackEntry) -> (String, Style, [Span]) {
        switch entry.kind {
        case .message(let message, let highlight) where highlight != .server && ActionText.action(in: message) != nil:
            return actionParts(message, highlight: highlight, action: ActionText.action(in: message) ?? "")
        case .message(let message, let highlight):
            let name = Self.displayName(message.source)
            let text = TerminalSanitizer.sanitize(message.content, keepNewlines: true)
            switch highlight {
            case .ordinary:
                return (name, .nick(NickColor.index(for: message.source, paletteSize: paletteSize)), [Span(text, .plain)])
            case .own:
                return (name, .ownNick, [Span(text, .plain)])
            case .mention:
                return (name, .highlightNick, [Span(text, .highlightText)])
            case .directToMe:
                return (name, .highlightNick, [Span("[DM] ", .directTag), Span(text, .highlightText)])
            case .directFromMe:
                return (name, .ownNick, [Span("[DM to \(clean(message.destination))] ", .directTag), Span(text, .plain)])
            case .directBetweenOthers:
                let color = NickColor.index(for: message.source, paletteSize: paletteSize)
                return (name, .nick(color), [Span("[DM to \(clean(message.destination))] ", .directTag), Span(text, .plain)])
            case .server:
                // Answers to commands read as the client's own notices.
                return ("--", .serverNick, [Span(text, .info)])
            }
        case .pastMessage(let message):
            let text = TerminalSanitizer.sanitize(message.content, keepNewlines: true)
            var tag = "[" + clock.shortDate(message.timestamp)
            if !message.isBroadcast { tag += " · to " + clean(message.destination) }
            return (Self.displayName(message.source), .quiet, [Span(tag + "] ", .quiet), Span(text, .quiet)])
        case .joined(let name):
            return ("-->", .quiet, [Span("\(clean(name)) joined", .quiet)])
        case .left(let name):
            return ("<--", .quiet, [Span("\(clean(name)) left", .quiet)])
        case .info(let text):
            return ("--", .info, [Span(clean(text, keepNewlines: true), .plain)])
        case .notice(let text):
            return ("--", .notice, [Span(clean(text, keepNewlines: true), .notice)])
        case .error(let text):
            return ("!!", .error, [Span(clean(text, keepNewlines: true), .error)])
        case .dayChanged(let text):
            return ("--", .notice, [Span(text, .notice)])
        }
    }

    /// "/me waves" as irssi shows it: a star in the name column, then "alice waves".
    func actionParts(_ message: ChatMessage, highlight: MessageHighlight, action: String) -> (String, Style, [Span]) {
        let nickStyle: Style = switch highlight {
        case .own, .directFromMe: .ownNick
        case .mention, .directToMe: .highlightNick
        default: .nick(NickColor.index(for: message.source, paletteSize: paletteSize))
        }
        let textStyle: Style = highlight.isAlert ? .highlightText : .plain
        var spans: [Span] = []
        switch highlight {
        case .directToMe: spans.append(Span("[DM] ", .directTag))
        case .directFromMe, .directBetweenOthers: spans.append(Span("[DM to \(clean(message.destination))] ", .directTag))
        default: break
        }
        spans += [Span(clean(message.source), nickStyle), Span(" " + clean(action), textStyle)]
        return ("*", nickStyle, spans)
    }

    private func clean(_ text: String, keepNewlines: Bool = false) -> String {
        TerminalSanitizer.sanitize(text, keepNewlines: keepNewlines)
    }
}
