import NIOCore

/// One address to try: a server of the configured list (by index) and one of the addresses its
/// name resolved to; `nil` when the name did not resolve.
struct ServerCandidate: Hashable, Sendable {
    var server: Int
    var address: SocketAddress?
}

/// The order in which one round of connection attempts visits the servers and their addresses.
///
/// A first connection goes through the servers as given, each one's addresses in getaddrinfo's
/// order. After a loss the round starts just after the address last used — that server's next
/// address, then the next server, round robin — and comes back to that address last, since it
/// has just failed. Backoff comes between rounds, never inside one.
struct FailoverRound: Sendable, Equatable {
    let serverCount: Int
    /// The candidate last connected to, or last tried; `nil` for the first connection.
    let after: ServerCandidate?

    /// The servers in the order visited; the server of `after` comes first (its later
    /// addresses) and last (its earlier addresses and `after` itself).
    var visits: [Int] {
        guard let after, serverCount > 0 else { return Array(0..<serverCount) }
        let start = after.server % serverCount
        return (0..<serverCount).map { (start + $0) % serverCount } + [start]
    }

    /// Of `addresses`, those of the server of visit number `visit`, the ones to try then.
    func addresses(ofVisit visit: Int, _ addresses: [SocketAddress]) -> [SocketAddress] {
        guard let after, visit == 0 || visit == serverCount else { return addresses }
        guard let last = after.address, let position = addresses.firstIndex(of: last) else {
            // The address last used is no longer among them (or the name did not resolve
            // then): all of them, once.
            return visit == 0 ? addresses : []
        }
        return visit == 0 ? Array(addresses[(position + 1)...]) : Array(addresses[...position])
    }
}
