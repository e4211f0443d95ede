/// An operator's ban: a name (by user key) or an address range that may not log in, until a
/// time or until lifted. Kept in the store, so that it outlives a restart.
public struct Ban: Sendable, Equatable, Codable {
    /// What is banned.
    public enum Target: Sendable, Hashable, Codable {
        /// A user, by key (`UsernameRules.key`).
        case name(String)
        /// An address or network, as `IPNetwork` writes it ("203.0.113.0/24", "2001:db8::1").
        case network(String)

        /// The store's column values: the kind and the target.
        public var kind: String {
            switch self {
            case .name: "name"
            case .network: "network"
            }
        }

        public var value: String {
            switch self {
            case .name(let key), .network(let key): key
            }
        }

        /// The target from the store's columns; `nil` for a kind this build does not know.
        public init?(kind: String, value: String) {
            switch kind {
            case "name": self = .name(value)
            case "network": self = .network(value)
            default: return nil
            }
        }
    }

    public var target: Target
    /// The name as the operator typed it (or the network), for messages and listings.
    public var display: String
    public var reason: String
    /// Who banned: an operator's name, or the admin socket.
    public var by: String
    /// When, in seconds since the epoch.
    public var since: Int64
    /// Until when (seconds since the epoch); `nil` until it is lifted.
    public var until: Int64?

    public init(target: Target, display: String, reason: String, by: String, since: Int64, until: Int64?) {
        self.target = target
        self.display = display
        self.reason = reason
        self.by = by
        self.since = since
        self.until = until
    }

    /// Whether the ban still holds at `now` (seconds since the epoch).
    public func isActive(at now: Int64) -> Bool {
        until.map { now < $0 } ?? true
    }
}
