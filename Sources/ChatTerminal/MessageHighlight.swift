public import ChatProtocol

/// How a message concerns the user, which decides how it is drawn and whether the bell rings.
public enum MessageHighlight: Sendable, Equatable {
    /// A broadcast from someone else that does not mention the user.
    case ordinary
    /// Sent by the user (a broadcast).
    case own
    /// A broadcast that mentions the user's name.
    case mention
    /// A direct message to the user from someone else.
    case directToMe
    /// A direct message the user sent to someone else.
    case directFromMe
    /// A direct message between two other users (some servers replay those in history).
    case directBetweenOthers
    /// An answer from the server's pseudo-user.
    case server

    /// Whether this deserves the user's attention (highlight and bell).
    public var isAlert: Bool { self == .mention || self == .directToMe }

    /// Classifies `message` for the user `username`; a broadcast containing one of `words`
    /// (the user's highlight words) is a mention too.
    public static func of(_ message: ChatMessage, username: String?, serverUser: String?, words: [String] = []) -> MessageHighlight {
        if let serverUser, message.source == serverUser { return .server }
        guard let username else { return message.isBroadcast ? .ordinary : .directToMe }
        let fromMe = message.source.lowercased() == username.lowercased()
        if message.isBroadcast {
            if fromMe { return .own }
            let mentioned = mentions(message.content, name: username) || words.contains { mentions(message.content, name: $0) }
            return mentioned ? .mention : .ordinary
        }
        if fromMe, message.destination.lowercased() != username.lowercased() { return .directFromMe }
        if message.destination.lowercased() != username.lowercased() { return .directBetweenOthers }
        return .directToMe
    }

    /// Whether `text` contains `name` as a word (not inside a longer name), ignoring case.
    public static func mentions(_ text: String, name: String) -> Bool {
        let haystack = Array(text.lowercased())
        let needle = Array(name.lowercased())
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        func isNameCharacter(_ character: Character) -> Bool {
            character.isLetter || character.isNumber || character == "_" || character == "-"
        }
        var start = 0
        while start + needle.count <= haystack.count {
            if haystack[start..<start + needle.count].elementsEqual(needle) {
                let before = start == 0 || !isNameCharacter(haystack[start - 1])
                let afterIndex = start + needle.count
                let after = afterIndex == haystack.count || !isNameCharacter(haystack[afterIndex])
                if before, after { return true }
            }
            start += 1
        }
        return false
    }
}
