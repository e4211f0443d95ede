import ChatProtocol

/// The settings a running server can change without a restart (on SIGHUP, see
/// ``ChatServer/reconfigure(_:)``): who the operators are, the message of the day, and the
/// limits that are read afresh by every connection.
public struct LiveSettings: Sendable, Equatable {
    /// The operators' names. A name counts only while it is registered and its user logged in
    /// with its password: an unregistered name anyone could take.
    public var operators: [String]
    /// Sent as INFO right after every login; `nil` or empty: none.
    public var motd: String?
    /// Messages one user may send per second, sustained (0: unlimited), and in a burst.
    public var messagesPerSecond: Double
    public var messageBurst: Int
    /// Open connections in all, and from one address (0: unlimited).
    public var connections: Int
    public var connectionsPerAddress: Int

    public init(operators: [String], motd: String?, messagesPerSecond: Double, messageBurst: Int, connections: Int, connectionsPerAddress: Int) {
        self.operators = operators
        self.motd = motd
        self.messagesPerSecond = messagesPerSecond
        self.messageBurst = messageBurst
        self.connections = connections
        self.connectionsPerAddress = connectionsPerAddress
    }

    /// The keys of ``operators``.
    var operatorKeys: Set<String> { Set(operators.map(UsernameRules.key)) }
}

extension ServerConfiguration {
    /// The live settings as this configuration starts them.
    public var liveSettings: LiveSettings {
        LiveSettings(
            operators: operators, motd: motd, messagesPerSecond: limits.messagesPerSecond, messageBurst: limits.messageBurst,
            connections: limits.connections, connectionsPerAddress: limits.connectionsPerAddress)
    }
}
