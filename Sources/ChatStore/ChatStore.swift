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
public struct KnownUser: Sendable, Equatable, Codable {
    /// The name as last used to log in.
    public var name: String
    /// Every message up to this sequence number was delivered to the user (live or in
    /// history); direct messages after it are still waiting for them.
    public var deliveredThrough: Int64
    /// The address the name was last used from: an unregistered name stays with it for a
    /// while (its reservation). `nil` when not known (stored by an older server).
    public var address: String?
    /// When the name was last used (logged in or out), seconds since the epoch; 0: not known.
    public var lastSeen: Int64
    /// Where the name's current holder began, when an unregistered name passed to another
    /// address: direct messages up to this sequence number, and files stored before
    /// `heldSinceTime` (seconds since the epoch), were someone else's and are not shown.
    public var heldSince: Int64
    public var heldSinceTime: Int64

    public init(name: String, deliveredThrough: Int64, address: String? = nil, lastSeen: Int64 = 0, heldSince: Int64 = 0, heldSinceTime: Int64 = 0) {
        self.name = name
        self.deliveredThrough = deliveredThrough
        self.address = address
        self.lastSeen = lastSeen
        self.heldSince = heldSince
        self.heldSinceTime = heldSinceTime
    }
}

/// One user blocking another, by user key (see `UsernameRules.key`).
public struct BlockRelation: Sendable, Hashable, Codable {
    public var blocker: String
    public var blocked: String

    public init(blocker: String, blocked: String) {
        self.blocker = blocker
        self.blocked = blocked
    }
}

/// A file a user uploaded (feature `files`), complete and checked.
public struct StoredFile: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var size: Int64
    /// Lowercase hex SHA-256.
    public var sha256: String
    /// The uploader's name and key.
    public var from: String
    public var fromKey: String
    /// "ALL" or the recipient's name, and its key.
    public var to: String
    public var toKey: String
    /// Seconds since the epoch.
    public var time: Int64

    public init(id: String, name: String, size: Int64, sha256: String, from: String, fromKey: String, to: String, toKey: String, time: Int64) {
        self.id = id
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.from = from
        self.fromKey = fromKey
        self.to = to
        self.toKey = toKey
        self.time = time
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
    /// Files stored for fetching.
    public var files: [StoredFile]
    /// Who is online on the servers of a cluster (a ``SharedLog``), as of `lastSequence`.
    public var online: [OnlineUser] = []
    /// The operators' bans, lifted or expired ones left out by the store when it can.
    public var bans: [Ban] = []

    public init(users: [KnownUser] = [], blocks: [BlockRelation] = [], lastSequence: Int64 = 0, accounts: [String: String] = [:], files: [StoredFile] = []) {
        self.users = users
        self.blocks = blocks
        self.lastSequence = lastSequence
        self.accounts = accounts
        self.files = files
    }
}

/// A user online on a server of a cluster.
public struct OnlineUser: Sendable, Equatable {
    public var name: String
    public var node: NodeIdentity

    public init(name: String, node: NodeIdentity) {
        self.name = name
        self.node = node
    }
}

/// One change to durable state. The server hands these to the store in groups; a group is
/// applied in one transaction.
public enum StoreOperation: Sendable, Equatable, Codable {
    /// A message accepted for delivery. The store gives it its sequence number.
    case message(ChatMessage)
    /// A user logged in or out under `name`; records the name and their delivery watermark.
    case user(KnownUser)
    case block(BlockRelation)
    case unblock(BlockRelation)
    /// The user `key` registered (or changed) their password: `passwordHash` is the encoded
    /// salted hash, never the password. `nil` removes the registration.
    case account(key: String, passwordHash: String?)
    /// A file was uploaded and checked.
    case file(StoredFile)
    /// A stored file was deleted (it expired, or its bytes were gone).
    case removeFile(id: String)
    /// The user `key` is forgotten (never registered, unseen since `lastSeenAtMost`, nothing
    /// stored for them): their row goes, unless they were seen since or something is waiting
    /// for them after all.
    case forgetUser(key: String, lastSeenAtMost: Int64)
    /// The user left the server `node` (several servers sharing a store, ``SharedLog``): their
    /// place online is given up, and the user is recorded as by ``user(_:)``. A store
    /// without presence only records the user.
    case left(KnownUser, node: NodeIdentity)
    /// An operator banned a name or an address range (replacing an earlier ban of the same target).
    case ban(Ban)
    /// An operator lifted the ban of `target`.
    case unban(Ban.Target)
    /// An operator disconnected the user `key`: nothing is stored, but servers sharing a store
    /// (``SharedLog``) read it from the log and disconnect the user wherever they are.
    case kick(key: String, reason: String, by: String)
    /// An operator's announcement to everyone: nothing is stored; servers sharing a store tell
    /// their users when they read it from the log.
    case announce(text: String, by: String)
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
    /// The newest broadcasts as the server holds them in memory. When they reach back far
    /// enough for this user, the store takes the history's broadcasts from here instead of
    /// reading them; the history is the same either way.
    public var recentBroadcasts: BroadcastWindow?
    /// Direct messages to and from the user up to this sequence number are left out: the name
    /// was someone else's then (``KnownUser/heldSince``).
    public var directMessagesAfter: Int64 = 0

    public init(
        userKey: String, excludedSenders: Set<String>, limit: Int, throughSequence: Int64,
        pendingAfter: Int64, pendingLimit: Int = 10_000, recentBroadcasts: BroadcastWindow? = nil,
        directMessagesAfter: Int64 = 0
    ) {
        self.directMessagesAfter = directMessagesAfter
        self.userKey = userKey
        self.excludedSenders = excludedSenders
        self.limit = limit
        self.throughSequence = throughSequence
        self.pendingAfter = pendingAfter
        self.pendingLimit = pendingLimit
        self.recentBroadcasts = recentBroadcasts
    }
}

/// The newest broadcasts, oldest first: every broadcast stored after the first one's place,
/// none left out. A login's history takes its broadcasts from here (all logins want the same
/// ones) when the window holds enough of them.
public struct BroadcastWindow: Sendable, Equatable {
    /// Oldest first, consecutive in the order of broadcasts.
    public var messages: [StoredMessage]
    /// Whether `messages` begins with the first broadcast ever stored (nothing older exists).
    public var reachesBeginning: Bool

    public init(messages: [StoredMessage], reachesBeginning: Bool) {
        self.messages = messages
        self.reachesBeginning = reachesBeginning
    }

    /// The newest `count` broadcasts up to `throughSequence` not from `excludedSenders` (keys),
    /// newest first; `nil` when the window cannot tell (it holds fewer and does not reach back
    /// to the beginning), so that the caller reads them from the store.
    public func newest(_ count: Int, through throughSequence: Int64, excluding excludedSenders: Set<String>) -> [StoredMessage]? {
        var found: [StoredMessage] = []
        found.reserveCapacity(min(count, messages.count))
        for stored in messages.reversed() where stored.sequence <= throughSequence {
            if found.count == count { break }
            if !excludedSenders.isEmpty, excludedSenders.contains(UsernameRules.key(stored.message.source)) { continue }
            found.append(stored)
        }
        return found.count == count || reachesBeginning ? found : nil
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
    /// The oldest sequence number of the most recent window (not counting waiting direct
    /// messages placed before it): where paging back continues. `nil` when the window is empty.
    public var pageCursor: Int64?

    public init(messages: [StoredMessage], truncated: Bool, pendingCount: Int, pageCursor: Int64? = nil) {
        self.messages = messages
        self.truncated = truncated
        self.pendingCount = pendingCount
        self.pageCursor = pageCursor
    }
}

/// A page of the history a user may see, older than a point: for paging back, or for a
/// full-text search. Visibility is the login replay's: broadcasts and direct messages to the
/// user from senders not in `excludedSenders`, and the user's own direct messages.
public struct PageRequest: Sendable {
    public var userKey: String
    public var excludedSenders: Set<String>
    /// Only messages with a smaller sequence number.
    public var before: Int64
    /// Only messages up to this sequence number (those after it reach the user live).
    public var throughSequence: Int64
    /// The most messages returned (the most recent ones before `before`).
    public var limit: Int
    /// Words the content must all contain, for a search (case and accents do not matter; a
    /// word ending in `*` matches any word it starts); `nil` for plain paging.
    public var words: [String]?
    /// Direct messages to and from the user up to this sequence number are left out (the name
    /// was someone else's then), as in the login replay.
    public var directMessagesAfter: Int64 = 0
    /// The longest the query may run; past it the store stops it and throws
    /// ``StoreError/timeLimitExceeded(_:)``. `nil`: no limit.
    public var timeLimit: Duration?

    public init(
        userKey: String, excludedSenders: Set<String>, before: Int64, throughSequence: Int64, limit: Int, words: [String]? = nil,
        directMessagesAfter: Int64 = 0, timeLimit: Duration? = nil
    ) {
        self.directMessagesAfter = directMessagesAfter
        self.userKey = userKey
        self.excludedSenders = excludedSenders
        self.before = before
        self.throughSequence = throughSequence
        self.limit = limit
        self.words = words
        self.timeLimit = timeLimit
    }
}

/// What a ``PageRequest`` found.
public struct Page: Sendable, Equatable {
    /// Oldest first.
    public var messages: [StoredMessage]
    /// Whether more visible (or matching) messages exist before the oldest returned.
    public var more: Bool

    public init(messages: [StoredMessage], more: Bool) {
        self.messages = messages
        self.more = more
    }
}

/// Durable storage for the chat server. Implementations must be safe to call from several
/// threads: ``apply(_:)`` from one writer, reads from any.
///
/// Every call may block (on the disk, or on a database server): the server makes them on
/// threads of its own (its commit pipeline's writer, its login and request threads), never on
/// an event loop or Swift's cooperative threads.
public protocol ChatStore: Sendable {
    /// Loads the users, blocks and last sequence number.
    func load() throws -> StoreSnapshot
    /// The newest `limit` broadcasts, oldest first (to fill the server's ``BroadcastWindow``).
    func recentBroadcasts(limit: Int) throws -> [StoredMessage]
    /// Applies `operations` in order, atomically, durably against a process crash. Messages
    /// get their sequence numbers here: increasing, after every message stored before, in the
    /// order given (consecutive in the embedded store; a store that servers share numbers
    /// their other log entries in the same order, so its messages may skip numbers). Returns
    /// them, one per message. Nothing is stored (and no number given) when
    /// it throws.
    @discardableResult
    func apply(_ operations: [StoreOperation]) throws -> [Int64]
    /// The history `request` describes.
    func history(_ request: HistoryRequest) throws -> History
    /// The page of history, or of search results, `request` describes.
    func page(_ request: PageRequest) throws -> Page
    /// Releases the store: stops reads under way, waits for the calls under way to return, then
    /// closes. Calls made after it throw ``StoreError/closed``. Idempotent.
    func close() throws
    /// Whether direct messages to the user `key` after sequence number `after` are stored
    /// (waiting for them): such a user is not forgotten.
    func hasDirectMessages(to key: String, after: Int64) throws -> Bool
    /// Throws unless the store answers a trivial read within `timeout` (readiness probes: a
    /// database that is down or unreachable).
    func checkReachable(within timeout: Duration) throws
    /// Whether ``apply(_:)`` returns in about the time of a local disk write (an embedded
    /// database), never waiting on a network: the server then lets the thread that hands over
    /// a batch commit it when nothing else is being committed, sparing two thread hand-offs
    /// per batch. A store that may wait on a network says no (the default).
    var commitsLocally: Bool { get }
}

extension ChatStore {
    /// An embedded store is reachable whenever the process is: its failures show in its writes.
    public func checkReachable(within timeout: Duration) throws {}

    public var commitsLocally: Bool { false }

    /// A store that cannot tell says yes: nobody is forgotten who might have mail.
    public func hasDirectMessages(to key: String, after: Int64) throws -> Bool { true }
}
