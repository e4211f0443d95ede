public import ChatProtocol
public import Foundation

/// Renders events as plain lines (line mode): local-time timestamps, sanitised content, no
/// escape codes.
public struct EventFormatter: Sendable {
    /// The user's own name, to tell incoming from outgoing direct messages.
    public var username: String?
    /// The server's pseudo-user name, shown as a notice rather than a chat line.
    public var serverUser: String?
    private let timeZone: TimeZone

    public init(username: String? = nil, serverUser: String? = nil, timeZone: TimeZone = .current) {
        self.username = username
        self.serverUser = serverUser
        self.timeZone = timeZone
    }

    /// The lines for `event` (a history event gives one line per message).
    public func lines(for event: ChatEvent, now: Date = Date()) -> [String] {
        let clock = time(now)
        switch event {
        case .welcome(let info, let online):
            var lines: [String] = []
            if let info { lines.append("-!- " + clean(info)) }
            lines.append("-!- Online (\(online.count)): " + online.map(clean).joined(separator: ", "))
            return lines
        case .loginRefused(let reason):
            return ["-!- Username refused: " + clean(reason)]
        case .history(let messages):
            if messages.isEmpty { return ["-!- No earlier messages."] }
            return ["-!- Earlier messages:"] + messages.flatMap(format) + ["-!- End of earlier messages."]
        case .earlierMessages(let messages, let more):
            if messages.isEmpty { return ["-!- No earlier messages."] }
            return ["-!- \(messages.count) earlier message\(messages.count == 1 ? "" : "s") (from the history, not new):"] + messages.flatMap(formatPast)
                + ["-!- " + (more ? "/History again for the ones before." : "That was the beginning of the history.")]
        case .searchResults(let query, let messages, let more):
            if messages.isEmpty { return ["-!- No messages contain \(clean(query))."] }
            return ["-!- \(messages.count) message\(messages.count == 1 ? "" : "s") containing \(clean(query)) (search results, not new):"] + messages.flatMap(formatPast)
                + ["-!- End of the results\(more ? " (the most recent matches; older ones exist)" : "")."]
        case .message(let message):
            return format(message)
        case .joined(let name):
            return ["\(clock) --> \(clean(name)) joined"]
        case .left(let name):
            return ["\(clock) <-- \(clean(name)) left"]
        case .info(let text):
            return ["\(clock) -!- " + clean(text)]
        case .error(let text):
            return ["\(clock) !!! Error from server: " + clean(text)]
        case .notice(let text):
            return ["-!- " + clean(text)]
        case .fileTransfer(let news):
            return ["-!- " + clean(news.text)]
        case .commandResult(_, let lines, let from, let isError):
            if isError { return lines.map { "\(clock) !!! Error from server: " + clean($0) } }
            guard let from else { return lines.map { "-!- " + clean($0) } }
            return lines.flatMap { format(ChatMessage(source: from, destination: username ?? "", timestamp: Int64(now.timeIntervalSince1970), content: $0)) }
        case .protocolProblem(let text):
            return ["\(clock) !!! Unexpected data from server: " + clean(text)]
        }
    }

    /// One message as lines: `[HH:mm] <alice> text`, direct messages marked, continuation
    /// lines of multi-line content indented so they cannot pass for other messages.
    public func format(_ message: ChatMessage) -> [String] {
        let clock = time(Date(timeIntervalSince1970: TimeInterval(message.timestamp)))
        let source = clean(message.source)
        let prefix: String
        if let serverUser, message.source == serverUser {
            prefix = "\(clock) -\(source)-"
        } else if message.isBroadcast {
            prefix = "\(clock) <\(source)>"
        } else if let username, message.source.lowercased() == username.lowercased(),
                  message.destination.lowercased() != username.lowercased() {
            prefix = "\(clock) [you → \(clean(message.destination))]"
        } else if let username, message.destination.lowercased() != username.lowercased() {
            // Between two other users: some servers replay those in history.
            prefix = "\(clock) [\(source) → \(clean(message.destination))]"
        } else {
            prefix = "\(clock) [\(source) → you]"
        }
        let body = TerminalSanitizer.sanitize(message.content, keepNewlines: true).split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = body.first else { return [prefix] }
        let indent = String(repeating: " ", count: 8)
        return ["\(prefix) \(first)"] + body.dropFirst().map { indent + $0 }
    }

    /// A message of a history page or search results: set apart by a bar, with its date, so
    /// that it cannot pass for a new one.
    func formatPast(_ message: ChatMessage) -> [String] {
        let lines = format(message)
        guard let first = lines.first else { return [] }
        return ["  | " + day(Date(timeIntervalSince1970: TimeInterval(message.timestamp))) + " " + first] + lines.dropFirst().map { "  | " + $0 }
    }

    private func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    private func clean(_ text: String) -> String {
        TerminalSanitizer.sanitize(text)
    }

    private func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "[%02d:%02d]", parts.hour ?? 0, parts.minute ?? 0)
    }
}
