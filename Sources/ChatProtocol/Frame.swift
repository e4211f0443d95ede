/// One protocol frame: a JSON object whose keys may piggy-back on each other.
///
/// Every key of the base protocol has a typed property; keys outside it (extensions such as
/// `FEATURES`, or a peer's mistakes) are kept in ``extensions`` in the order they arrived.
public struct Frame: Sendable, Equatable {
    /// The keys of the base protocol, in the order they are written.
    public enum Key {
        public static let username = "USERNAME"
        public static let usernameAccepted = "USERNAME_ACCEPTED"
        public static let info = "INFO"
        public static let userList = "USER_LIST"
        public static let messages = "MESSAGES"
        public static let usersJoined = "USERS_JOINED"
        public static let usersLeft = "USERS_LEFT"
        public static let error = "ERROR"
        /// Extension negotiation (see PROTOCOL.md): the features a peer supports or enabled.
        public static let features = "FEATURES"
        /// Account password, at login (feature `accounts`).
        public static let password = "PASSWORD"
        /// In a login refusal: the name is registered and needs its password (feature `accounts`).
        public static let passwordRequired = "PASSWORD_REQUIRED"
        /// Request for, and reply with, older history (feature `history`).
        public static let history = "HISTORY"
        /// Request for, and reply with, search results (feature `history`).
        public static let search = "SEARCH"
        /// In a login acceptance that answered FEATURES: how many messages the server accepts
        /// per second and in a burst (``MessageRate``).
        public static let limits = "LIMITS"

        /// All base-protocol keys.
        public static let base: Set<String> = [
            username, usernameAccepted, info, userList, messages, usersJoined, usersLeft, error,
        ]
    }

    public var username: String?
    public var usernameAccepted: Bool?
    public var info: String?
    public var userList: [String]?
    public var messages: [ChatMessage]?
    public var usersJoined: [String]?
    public var usersLeft: [String]?
    public var error: String?
    /// Members outside the base protocol, in arrival order.
    public var extensions: [JSONObject.Member]

    public init(
        username: String? = nil,
        usernameAccepted: Bool? = nil,
        info: String? = nil,
        userList: [String]? = nil,
        messages: [ChatMessage]? = nil,
        usersJoined: [String]? = nil,
        usersLeft: [String]? = nil,
        error: String? = nil,
        extensions: [JSONObject.Member] = []
    ) {
        self.username = username
        self.usernameAccepted = usernameAccepted
        self.info = info
        self.userList = userList
        self.messages = messages
        self.usersJoined = usersJoined
        self.usersLeft = usersLeft
        self.error = error
        self.extensions = extensions
    }

    /// The value of an extension key, if present.
    public func extensionValue(_ key: String) -> JSONValue? {
        extensions.first { $0.key == key }?.value
    }

    /// `FEATURES` as a list of names, if the key is present and well formed.
    public var features: [String]? {
        get {
            guard let elements = extensionValue(Key.features)?.arrayValue else { return nil }
            return elements.compactMap(\.stringValue)
        }
        set {
            extensions.removeAll { $0.key == Key.features }
            if let newValue {
                extensions.append(.init(key: Key.features, value: .array(newValue.map(JSONValue.string))))
            }
        }
    }

    /// Whether no key at all is set.
    public var isEmpty: Bool {
        username == nil && usernameAccepted == nil && info == nil && userList == nil && messages == nil
            && usersJoined == nil && usersLeft == nil && error == nil && extensions.isEmpty
    }
}
