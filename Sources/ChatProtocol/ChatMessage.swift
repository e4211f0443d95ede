/// One chat message: the protocol's 4-tuple `[SRC, DEST, TIMESTAMP, CONTENT]`.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// The destination that addresses every user.
    public static let broadcastDestination = "ALL"

    /// Who sent it (`SRC`).
    public var source: String
    /// `"ALL"` for a broadcast, otherwise the recipient's username (`DEST`).
    public var destination: String
    /// Seconds since the Unix epoch, UTC (`TIMESTAMP`).
    public var timestamp: Int64
    /// The text (`CONTENT`).
    public var content: String

    public init(source: String, destination: String, timestamp: Int64, content: String) {
        self.source = source
        self.destination = destination
        self.timestamp = timestamp
        self.content = content
    }

    /// Whether this message is addressed to everyone.
    public var isBroadcast: Bool { destination == Self.broadcastDestination }
}
