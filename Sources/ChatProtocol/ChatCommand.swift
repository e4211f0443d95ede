/// A slash command, as typed by a user or found at the start of a message's CONTENT.
///
/// A command is `/` followed by a letter; the word after the slash is matched
/// case-insensitively. Text that starts with `//` is not a command: it is the literal text
/// with one slash removed (see ``literalText(_:)``).
public enum ChatCommand: Sendable, Equatable {
    case help
    case quit
    case name
    case block(String?)
    case unblock(String?)
    case blocked
    case displayUsers
    case displayAllUsers
    /// Register the name with a password (or change it); `nil` when none was given.
    case register(String?)
    /// Remove the name's registration.
    case unregister
    /// Earlier messages; the operand is how many.
    case history(String?)
    /// Full-text search of the history; the operand is the words.
    case search(String?)
    /// The files the user may fetch.
    case files
    /// Upload a file (client side): `[@name] PATH`.
    case send(String?)
    /// Fetch a file (client side): `ID [PATH]`.
    case get(String?)
    /// Operators: disconnect a user (`NAME [reason]`).
    case kick(String?)
    /// Operators: ban a name or an address range (`NAME|ADDRESS[/PREFIX] [DURATION] [reason]`).
    case ban(String?)
    /// Operators: lift a ban (`NAME|ADDRESS[/PREFIX]`).
    case unban(String?)
    /// Operators: list the bans in force.
    case bans
    /// Operators: tell everyone online (`TEXT`).
    case announce(String?)
    /// A `/word` that is not a known command.
    case unknown(String)

    /// One line of help per command, in the seed's order.
    public static let helpLines: [String] = [
        "/Help - show this list of commands",
        "/Quit - leave the chat",
        "/Name - show your username",
        "/Block <username> - stop messages to and from that user",
        "/UnBlock <username> - allow messages from that user again (unless they block you)",
        "/Blocked - list the users you have blocked",
        "/DisplayUsers - list the users online now",
        "/DisplayAllUsers - list every user who has ever been here",
        "/Register <password> - register your name: from then on it needs the password to log in",
        "/Unregister - remove your name's registration",
        "/History [N] - show N earlier messages (default 20); again for the ones before",
        "/Search <words> - find messages containing all the words (word* for a prefix)",
        "/Send [@username] <path> - send a file to everyone or to one user",
        "/Files - list the files you can fetch",
        "/Get <id> [path] - fetch a file (resumes an interrupted download)",
        "@<username> <text> - send a direct message",
    ]

    /// One line of help per operator command (shown to operators only).
    public static let operatorHelpLines: [String] = [
        "/Kick <username> [reason] - disconnect that user (operators)",
        "/Ban <username|address[/prefix]> [duration] [reason] - ban a name or addresses, e.g. 2h, 7d; none: until lifted (operators)",
        "/Unban <username|address[/prefix]> - lift a ban (operators)",
        "/Bans - list the bans in force (operators)",
        "/Announce <text> - tell everyone online (operators)",
    ]

    /// Whether this is an operator command (which a server runs for its operators only).
    public var isOperatorCommand: Bool {
        switch self {
        case .kick, .ban, .unban, .bans, .announce: true
        default: false
        }
    }

    /// The command in `text`, or `nil` when `text` is ordinary text.
    public static func parse(_ text: String) -> ChatCommand? {
        guard text.hasPrefix("/") else { return nil }
        let body = text.dropFirst()
        guard let first = body.first, first.isLetter else { return nil }
        let word = body.prefix { !$0.isWhitespace }
        let argument = body.dropFirst(word.count).trimmingWhitespace()
        let operand: String? = argument.isEmpty ? nil : argument
        switch word.lowercased() {
        case "help": return .help
        case "quit": return .quit
        case "name": return .name
        case "block": return .block(operand)
        case "unblock": return .unblock(operand)
        case "blocked": return .blocked
        case "displayusers": return .displayUsers
        case "displayallusers": return .displayAllUsers
        case "register": return .register(operand)
        case "unregister": return .unregister
        case "history": return .history(operand)
        case "search": return .search(operand)
        case "files": return .files
        case "send": return .send(operand)
        case "get": return .get(operand)
        case "kick": return .kick(operand)
        case "ban": return .ban(operand)
        case "unban": return .unban(operand)
        case "bans": return .bans
        case "announce": return .announce(operand)
        default: return .unknown(String(word))
        }
    }

    /// The text to send for `text` typed by a user who did not mean a command: `//x` → `/x`.
    public static func literalText(_ text: String) -> String {
        text.hasPrefix("//") ? String(text.dropFirst()) : text
    }

    /// A single username operand: one word, with an optional leading `@`. `nil` when the
    /// operand is missing or has more than one word.
    public static func username(in operand: String?) -> String? {
        guard var name = operand, !name.isEmpty, !name.contains(where: \.isWhitespace) else { return nil }
        if name.hasPrefix("@") { name.removeFirst() }
        return name.isEmpty ? nil : name
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
