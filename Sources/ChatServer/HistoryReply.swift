import ChatProtocol
import ChatStore
import NIOCore

/// The frames that answer a request for older history or a search: the structured reply of
/// feature `history`, or, for the /History and /Search commands, a line from the server's
/// pseudo-user followed by the messages.
struct HistoryReply {
    /// The messages sent, oldest first.
    let messages: [StoredMessage]
    /// Whether older messages (or matches) remain.
    let more: Bool

    /// Keeps the newest messages of `page` whose encoding fits in `budget` bytes, so that the
    /// reply is one frame under the frame limit.
    init(_ page: Page, budget: Int) {
        var kept: [StoredMessage] = []
        var used = 0
        var trimmed = false
        for message in page.messages.reversed() {
            let size = FrameCoding.encodedSize(of: message.message) + 1
            if used + size > budget {
                trimmed = true
                break
            }
            used += size
            kept.append(message)
        }
        messages = kept.reversed()
        more = page.more || trimmed
    }

    /// The cursor of the next older page.
    var cursor: Int64? { messages.first?.sequence }

    /// `{"MESSAGES": [...], "HISTORY": {...}}` (or `"SEARCH"` for a search).
    func structuredFrame(for query: HistoryQuery) -> ByteBuffer {
        var frame = Frame(messages: messages.map(\.message))
        let info = HistoryPageInfo(before: cursor, more: more, query: query.query)
        frame.extensions.append(.init(key: query.query == nil ? Frame.Key.history : Frame.Key.search, value: info.jsonValue))
        return FrameCoding.encode(frame)
    }

    /// For a command: what the pseudo-user says, then the messages (when there are any).
    func commandFrames(for query: HistoryQuery, note: (String) -> ChatMessage) -> ByteBuffer {
        let count = messages.count
        let plural = count == 1 ? "" : "s"
        let line: String
        if let text = query.query {
            line = count == 0
                ? "No messages contain \(text)."
                : "\(count) message\(plural) containing \(text), oldest first\(more ? " (the most recent matches; there are more)" : "")."
        } else {
            line = count == 0
                ? "No earlier messages."
                : "\(count) earlier message\(plural), oldest first\(more ? "; /History again for the ones before" : "")."
        }
        var buffer = FrameCoding.encode(Frame(messages: [note(line)]))
        if count > 0 {
            var results = FrameCoding.encode(Frame(messages: messages.map(\.message)))
            buffer.writeBuffer(&results)
        }
        return buffer
    }
}
