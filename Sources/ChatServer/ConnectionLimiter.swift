import NIOCore
import NIOConcurrencyHelpers

/// Counts open connections, in all and per network prefix, and refuses those over the limits.
///
/// "Per address" means per prefix: one IPv6 subscriber usually holds a whole /64, so counting
/// full IPv6 addresses would let one machine open unlimited connections; IPv4 addresses count
/// one by one (/32) by default. Exempt networks (loopback by default: a class, a bot farm or a
/// reverse proxy on the same machine) are limited only by the total.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var byPrefix: [String: Int] = [:]
        var politeRefusals = 0
        /// The limits (0: unlimited), changeable while the server runs (``reconfigure(perAddress:total:)``).
        var perAddress: Int
        var limit: Int
    }

    /// Refused connections that may wait for a TLS handshake to be told why; beyond this,
    /// refusals are closed at once so that refusing never costs more than serving.
    static let maximumPoliteRefusals = 64

    private let exemptions: [IPNetwork]
    private let ipv4PrefixLength: Int
    private let ipv6PrefixLength: Int
    private let counts: NIOLockedValueBox<Counts>

    /// Limits of 0 mean unlimited.
    init(perAddress: Int, total: Int, exemptions: [IPNetwork] = IPNetwork.loopback, ipv4PrefixLength: Int = 32, ipv6PrefixLength: Int = 64) {
        self.counts = NIOLockedValueBox(Counts(perAddress: perAddress, limit: total))
        self.exemptions = exemptions
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
    }

    /// The key a connection is known under: the IP address without the port.
    static func key(for address: SocketAddress?) -> String {
        address?.ipAddress ?? "unknown"
    }

    /// What a connection from `key` is counted under for the per-address limit: its network
    /// prefix, or `nil` when exempt.
    func prefix(of key: String) -> String? {
        guard let bytes = IPNetwork.bytes(ofAddress: key) else { return key }
        if exemptions.contains(where: { $0.contains(bytes) }) { return nil }
        return IPNetwork(bytes: bytes, prefixLength: bytes.count == 4 ? ipv4PrefixLength : ipv6PrefixLength).description
    }

    /// Admits a connection from `key`, or says why not. Connections are counted per prefix
    /// whatever the per-address limit, so that a limit set while the server runs counts the
    /// connections already open.
    func admit(_ key: String) -> String? {
        let prefix = prefix(of: key)
        return counts.withLockedValue { counts in
            if counts.limit > 0, counts.total >= counts.limit {
                return "the server is full (\(counts.limit) connections)"
            }
            if let prefix {
                let current = counts.byPrefix[prefix, default: 0]
                if counts.perAddress > 0, current >= counts.perAddress {
                    return "there are already \(counts.perAddress) connections from \(prefix)"
                }
                counts.byPrefix[prefix] = current + 1
            }
            counts.total += 1
            return nil
        }
    }

    /// New limits (0: unlimited) for the connections admitted from now on; open ones stay.
    func reconfigure(perAddress: Int, total: Int) {
        counts.withLockedValue { counts in
            counts.perAddress = perAddress
            counts.limit = total
        }
    }

    /// Whether one more refused connection may be answered with an ERROR (it must then call
    /// ``politeRefusalEnded()`` when closed).
    func beginPoliteRefusal() -> Bool {
        counts.withLockedValue { counts in
            guard counts.politeRefusals < Self.maximumPoliteRefusals else { return false }
            counts.politeRefusals += 1
            return true
        }
    }

    func politeRefusalEnded() {
        counts.withLockedValue { $0.politeRefusals -= 1 }
    }

    /// A connection admitted under `key` has closed.
    func release(_ key: String) {
        let prefix = prefix(of: key)
        counts.withLockedValue { counts in
            counts.total -= 1
            guard let prefix else { return }
            let remaining = counts.byPrefix[prefix, default: 1] - 1
            counts.byPrefix[prefix] = remaining > 0 ? remaining : nil
        }
    }

    var openConnections: Int { counts.withLockedValue { $0.total } }
}
