public import ChatProtocol

/// `/me` actions and away notices, sent as ordinary content that any client shows sensibly
/// ("<alice> * alice waves"): nothing new to negotiate. Chatterbox recognises the shape when
/// the name in it is the sender's, and draws it as an action.
public enum ActionText {
    /// The content for `name` doing `action`: "* alice waves".
    public static func content(name: String, action: String) -> String {
        "* " + name + " " + action
    }

    /// The action in `message` ("waves"), when its content is one by its sender.
    public static func action(in message: ChatMessage) -> String? {
        let prefix = "* " + message.source + " "
        guard message.content.hasPrefix(prefix), !message.content.contains("\n") else { return nil }
        let action = message.content.dropFirst(prefix.count)
        return action.isEmpty ? nil : String(action)
    }

    /// What an action says of its sender's presence: away (with the reason, possibly empty)
    /// or back; `nil` for other actions.
    public enum Presence: Sendable, Equatable {
        case away(String)
        case back
    }

    static let awayPrefix = "is away"
    static let backText = "is back"

    /// The action that says the user is away for `reason` (may be empty).
    public static func away(_ reason: String) -> String {
        reason.isEmpty ? awayPrefix : awayPrefix + ": " + reason
    }

    /// The action that says the user is back.
    public static var back: String { backText }

    /// What `action` says of presence.
    public static func presence(_ action: String) -> Presence? {
        if action == backText { return .back }
        if action == awayPrefix { return .away("") }
        if action.hasPrefix(awayPrefix + ": ") { return .away(String(action.dropFirst(awayPrefix.count + 2))) }
        return nil
    }
}
