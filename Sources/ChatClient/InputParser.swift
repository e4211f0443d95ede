public import ChatProtocol

/// What a line typed by the user asks for.
public enum UserInput: Sendable, Equatable {
    /// Send `text` to `destination` ("ALL" or a username).
    case message(destination: String, text: String)
    /// A slash command.
    case command(ChatCommand)
    /// Nothing to do (blank line).
    case nothing
    /// A mistake, with what to tell the user.
    case invalid(String)
}

/// Interprets typed lines: `@name text` is a direct message, `/word` a command, `//text`
/// literal text starting with a slash, anything else a message to everyone.
public enum InputParser {
    public static func parse(_ line: String) -> UserInput {
        let trimmed = line.trimmingTrailingNewline()
        if trimmed.allSatisfy(\.isWhitespace) { return .nothing }
        if trimmed.hasPrefix("@") {
            let body = trimmed.dropFirst()
            let name = body.prefix { !$0.isWhitespace }
            let text = body.dropFirst(name.count).drop { $0 == " " }
            guard !name.isEmpty else { return .invalid("Usage: @username message") }
            guard !text.allSatisfy(\.isWhitespace) else {
                return .invalid("Type a message after @\(name), for example: @\(name) hello")
            }
            return .message(destination: String(name), text: String(text))
        }
        if let command = ChatCommand.parse(trimmed) { return .command(command) }
        return .message(destination: ChatMessage.broadcastDestination, text: trimmed)
    }
}

extension String {
    func trimmingTrailingNewline() -> String {
        var result = self
        while let last = result.last, last == "\n" || last == "\r" || last == "\r\n" { result.removeLast() }
        return result
    }
}
