import ChatProtocol

/// One server of several that share a store: its name (`--node`) and this run of it. A run
/// that stops without saying so (kill -9, power loss) is told apart from the next one by its
/// incarnation, so that the next run can announce the previous one's users as gone.
public struct NodeIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    /// Unique to this run of the process.
    public var incarnation: String

    public init(name: String, incarnation: String) {
        self.name = name
        self.incarnation = incarnation
    }

    public var description: String { name }
}

/// One thing in the shared log, at its place in the one order of the chat.
public enum LogEntry: Sendable, Equatable {
    case message(StoredMessage)
    /// Anything but a message (a login, a block, an account...), written by the run `origin`.
    case operation(sequence: Int64, origin: String, StoreOperation)
    /// The user came online on the server `node`.
    case joined(sequence: Int64, KnownUser, node: NodeIdentity)

    public var sequence: Int64 {
        switch self {
        case .message(let stored): stored.sequence
        case .operation(let sequence, _, _), .joined(let sequence, _, _): sequence
        }
    }
}

/// Stops what ``SharedLog/listen(_:)`` started.
public protocol LogListening: Sendable {
    func stop()
}

/// A store that several servers share: besides the ``ChatStore`` contract it keeps the one order
/// of everything any of them does (messages and every other change, each with its sequence
/// number, in ``ChatStore/apply(_:)``), says when there is something new, and holds who is
/// online where, each server under a lease it renews.
///
/// Like ``ChatStore``, every call may block; the server makes them on threads of its own.
public protocol SharedLog: ChatStore {
    /// Starts a run of `node`: users its earlier runs left online are announced gone (they
    /// stopped without saying so). Returns the last sequence number given.
    func begin(_ node: NodeIdentity, lease: Duration) throws -> Int64
    /// What was written after `sequence`, oldest first, at most `limit`.
    func entries(after sequence: Int64, limit: Int) throws -> [LogEntry]
    /// Puts `user` online on `node` unless the name is online anywhere: the sequence number of
    /// the login, or `nil` when the name is taken.
    func claim(_ user: KnownUser, on node: NodeIdentity) throws -> Int64?
    /// Renews `node`'s lease for `lease` from now (the store's clock), recording that it has
    /// applied the log through `applied`; returns the keys of the users the store holds online
    /// for this run.
    func renew(_ node: NodeIdentity, lease: Duration, applied: Int64) throws -> Set<String>
    /// Announces the users of runs whose lease ran out as gone; returns how many. Also forgets
    /// the log's entries besides messages that every live server has applied, once they are
    /// older than ``SharedLogRetention/entries`` (a server that starts reads the state, not
    /// the log).
    func expireLapsedNodes() throws -> Int
    /// Calls `wake` after every commit (by any server) and after the listening connection comes
    /// back (when notifications may have been lost), until stopped.
    func listen(_ wake: @escaping @Sendable () -> Void) -> any LogListening
}

/// How long a shared log keeps its entries besides messages once every live server has applied
/// them. A server cut off from the store for longer finds entries missing after its place and
/// must start again (it stops, saying so): its users were announced gone long before.
public enum SharedLogRetention {
    public static let entries: Duration = .seconds(3600)
}
