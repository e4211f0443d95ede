import ChatStore
#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Who may take a name that is not registered (the seed's "remembering what IP is associated
/// with a username and not letting someone else use that username for some time").
///
/// A name stays with the address it was last used from for ``duration`` after its user was
/// last seen; the address and the time are kept with the user in the store, so a restart
/// changes nothing. A login from elsewhere meanwhile is refused with the reason and what to
/// do. Once the reservation is over another address may have the name, but as a new holder:
/// the direct messages and files of the name's past are not theirs (``KnownUser/heldSince``).
/// A registered name needs its password instead, from any address.
struct NameReservations {
    /// How long a name stays with its address after its user was last seen; zero: not at all.
    let duration: TimeAmount

    init(duration: TimeAmount) {
        self.duration = duration
    }

    var seconds: Int64 { duration.nanoseconds / 1_000_000_000 }

    enum Verdict: Equatable {
        /// The login is the name's holder: from its address (or network), or no address is
        /// known (a user stored before addresses were kept: the first login binds the name).
        case holder
        /// The name is reserved for another address for `remaining` seconds more.
        case reserved(remaining: Int64)
        /// The reservation is over: the login may have the name as its new holder.
        case newHolder
    }

    /// What a login from `address` at `now` (seconds since the epoch) may do with `user`'s name.
    func verdict(for user: KnownUser, from address: String, now: Int64) -> Verdict {
        guard let reserved = user.address, !Self.sameHolder(reserved, address) else { return .holder }
        let until = user.lastSeen + seconds
        return now < until ? .reserved(remaining: until - now) : .newHolder
    }

    /// Whether two peer addresses are one holder's: equal, or IPv6 addresses in the same /64
    /// (privacy extensions give a machine a new address on its network every day or so).
    static func sameHolder(_ first: String, _ second: String) -> Bool {
        if first == second { return true }
        guard let a = ipv6Bytes(first), let b = ipv6Bytes(second) else { return false }
        let mappedIPv4: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
        if Array(a.prefix(12)) == mappedIPv4 || Array(b.prefix(12)) == mappedIPv4 { return a == b }
        return a.prefix(8) == b.prefix(8)
    }

    private static func ipv6Bytes(_ address: String) -> [UInt8]? {
        guard address.contains(":") else { return nil }
        var storage = in6_addr()
        guard inet_pton(AF_INET6, address, &storage) == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { Array($0) }
    }
}

/// "3 days", "5 hours": how long ago `seconds` is, as people say it.
func describeAgo(seconds: Int64) -> String {
    describeDuration(.seconds(max(1, seconds)))
}
