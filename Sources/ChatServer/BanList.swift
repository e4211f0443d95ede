import ChatStore
import NIOCore

/// The operators' bans in force, as the hub checks them: names by key, address ranges by
/// network. Expired bans stay until lifted or replaced, and are ignored.
struct BanList: Sendable {
    private(set) var byName: [String: Ban] = [:]
    private(set) var byNetwork: [IPNetwork: Ban] = [:]

    init(_ bans: [Ban] = []) {
        for ban in bans { insert(ban) }
    }

    mutating func insert(_ ban: Ban) {
        switch ban.target {
        case .name(let key): byName[key] = ban
        case .network(let text):
            if let network = IPNetwork(text) { byNetwork[network] = ban }
        }
    }

    /// Removes the ban of `target`; the ban that was lifted, if any.
    @discardableResult
    mutating func remove(_ target: Ban.Target) -> Ban? {
        switch target {
        case .name(let key): return byName.removeValue(forKey: key)
        case .network(let text):
            guard let network = IPNetwork(text) else { return nil }
            return byNetwork.removeValue(forKey: network)
        }
    }

    /// The ban in force on the name `key` at `now`, if any.
    func ban(forName key: String, at now: Int64) -> Ban? {
        guard let ban = byName[key], ban.isActive(at: now) else { return nil }
        return ban
    }

    /// The ban in force at `now` on a range holding `address` (an IP literal), if any; the
    /// longest-lasting one when several hold it.
    func ban(forAddress address: String, at now: Int64) -> Ban? {
        guard !byNetwork.isEmpty, let bytes = IPNetwork.bytes(ofAddress: address) else { return nil }
        return byNetwork.lazy
            .filter { $0.key.contains(bytes) && $0.value.isActive(at: now) }
            .map(\.value)
            .max { ($0.until ?? .max) < ($1.until ?? .max) }
    }

    /// Every ban in force at `now`, oldest first.
    func active(at now: Int64) -> [Ban] {
        (Array(byName.values) + Array(byNetwork.values)).filter { $0.isActive(at: now) }.sorted { $0.since < $1.since }
    }
}

extension Ban {
    /// What someone refused for this ban is told: what is banned, for how long, and why.
    func refusalText(at now: Int64) -> String {
        let what: String = switch target {
        case .name: "The username \(display) is banned"
        case .network: "Your address is banned"
        }
        return "\(what) \(remainingText(at: now)). Reason: \(reason.isEmpty ? "none given" : reason)"
    }

    /// "for another 2 hours", "until an operator lifts it".
    func remainingText(at now: Int64) -> String {
        guard let until else { return "until an operator lifts the ban" }
        return "for another \(describeDuration(.seconds(max(1, until - now))))"
    }

    /// "for 2 hours", "until an operator lifts it": the ban's length, as it starts.
    func termText(at now: Int64) -> String {
        guard let until else { return "until an operator lifts the ban" }
        return "for \(describeDuration(.seconds(max(1, until - now))))"
    }

    /// One line for a listing: "bob (name), by alice, for another 1 hour: spam".
    func listingLine(at now: Int64) -> String {
        let kind: String = if case .name = target { "name" } else { "address" }
        return "\(display) (\(kind)), by \(by), \(remainingText(at: now))\(reason.isEmpty ? "" : ": " + reason)"
    }
}
