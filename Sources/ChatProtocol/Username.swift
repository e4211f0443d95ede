/// The rules a username must follow (see PROTOCOL.md, "Usernames").
public struct UsernameRules: Sendable {
    /// Longest name accepted, in Unicode scalars.
    public static let maximumLength = 32

    /// The server's own pseudo-user, who answers commands. Reserved.
    public var serverName: String

    public init(serverName: String = "Chatterbox") {
        self.serverName = serverName
    }

    /// The key two names are compared by: names equal under this key are the same user.
    public static func key(_ name: String) -> String {
        name.lowercased()
    }

    /// Why `name` cannot be used, or `nil` when it is acceptable.
    public func problem(with name: String) -> String? {
        let scalars = name.unicodeScalars
        if scalars.isEmpty { return "The username must not be empty." }
        if scalars.count > Self.maximumLength {
            return "The username is too long: at most \(Self.maximumLength) characters."
        }
        for scalar in scalars {
            let properties = scalar.properties
            if properties.isWhitespace || scalar.value == 0x200B {
                return "The username must not contain spaces."
            }
            switch properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                return "The username must not contain control or invisible characters."
            default:
                break
            }
        }
        if let first = name.first, first == "@" || first == "/" {
            return "The username must not start with '\(first)'."
        }
        let key = Self.key(name)
        if key == Self.key(ChatMessage.broadcastDestination) {
            return "\(ChatMessage.broadcastDestination) is reserved: it addresses every user."
        }
        if key == Self.key(serverName) {
            return "\(serverName) is reserved for the server."
        }
        return nil
    }
}
