public import ChatProtocol

/// A message as the server keeps it: its place in the server's total order plus the tuple.
public struct StoredMessage: Sendable, Equatable {
    /// Server-assigned, strictly increasing across the store's whole life.
    public var sequence: Int64
    public var message: ChatMessage

    public init(sequence: Int64, message: ChatMessage) {
        self.sequence = sequence
        self.message = message
    }
}

/// A user the server has ever seen.
public struct KnownUser: Sendable, Equatable {
    /// The name as last used to log in.
    public var name: String
    /// Every message up to this sequence number was delivered to the user (live or in
    /// history); direct messages after it are still waiting for them.
    public var deliveredThrough: Int64

    public init(name: String, deliveredThrough: Int64) {
        self.name = name
        self.deliveredThrough = deliveredThrough
    }
}

/// One user blocking another, by user key (see `UsernameRules.key`).
public struct BlockRelation: Sendable, Hashable {
    public var blocker: String
    public var blocked: String

    public init(blocker: String, blocked: String) {
        self.blocker = blocker
        self.blocked = blocked
    }
}

/// Everything the server holds in memory, as loaded at start.
public struct StoreSnapshot: Sendable {
    public var users: [KnownUser]
    public var blocks: [BlockRelation]
    /// The highest message sequence number stored, 0 when there is none.
    public var lastSequence: Int64
    /// Registered names: user key → encoded password hash.
    public var accounts: [String: String]

    public init(users: [KnownUser] = [], blocks: [BlockRelation] = [], lastSequence: Int64 = 0, accounts: [String: String] = [:]) {
        self.users = users
        self.blocks = blocks
        self.lastSequence = lastSequence
        self.accounts = accounts
    }
}

/// One change to durable state. The server hands these to the store in groups; a group is
/// applied in one transaction.
public enum StoreOperation: Sendable, Equatable {
    /// A message accepted for delivery.
    case message(StoredMessage)
    /// A user logged in or out under `name`; records the name and their delivery watermark.
    case user(KnownUser)
    case block(BlockRelation)
    case unblock(BlockRelation)
    /// The user `key` registered (or changed) their password: `passwordHash` is the encoded
    /// salted hash, never the password. `nil` removes the registration.
    case account(key: String, passwordHash: String?)
}

/// What a user may see of the history, as loaded at login.
public struct HistoryRequest: Sendable {
    /// The user's key.
    public var userKey: String
    /// Messages from these users (by key) are left out: blocked by or blocking the user.
    public var excludedSenders: Set<String>
    /// The most recent messages to return.
    public var limit: Int
    /// Only messages up to this sequence number (everything after it reaches the user live).
    public var throughSequence: Int64
    /// Direct messages to the user after this sequence number are returned even beyond
    /// `limit` (they arrived while the user was away), up to `pendingLimit`.
    public var pendingAfter: Int64
    public var pendingLimit: Int

    public init(
        userKey: String, excludedSenders: Set<String>, limit: Int, throughSequence: Int64,
        pendingAfter: Int64, pendingLimit: Int = 10_000
    ) {
        self.userKey = userKey
        self.excludedSenders = excludedSenders
        self.limit = limit
        self.throughSequence = throughSequence
        self.pendingAfter = pendingAfter
        self.pendingLimit = pendingLimit
    }
}

/// The history a user gets at login.
public struct History: Sendable, Equatable {
    /// Oldest first.
    public var messages: [StoredMessage]
    /// Whether older visible messages exist beyond the limit.
    public var truncated: Bool
    /// How many of `messages` are direct messages that arrived while the user was away.
    public var pendingCount: Int

    public init(messages: [StoredMessage], truncated: Bool, pendingCount: Int) {
        self.messages = messages
        self.truncated = truncated
        self.pendingCount = pendingCount
    }
}

/// Durable storage for the chat server. Implementations must be safe to call from several
/// threads: ``apply(_:)`` from one writer, reads from any.
public protocol ChatStore: Sendable {
    /// Loads the users, blocks and last sequence number.
    func load() throws -> StoreSnapshot
    /// Applies `operations` in order, atomically, durably against a process crash.
    func apply(_ operations: [StoreOperation]) throws
    /// The history `request` describes.
    func history(_ request: HistoryRequest) throws -> History
    /// Releases the store. No call may follow.
    func close() throws
}
