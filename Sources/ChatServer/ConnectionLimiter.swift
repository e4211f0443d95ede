import NIOCore
import NIOConcurrencyHelpers

/// Counts open connections, in all and per remote address, and refuses those over the limits.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
        var politeRefusals = 0
    }

    /// Refused connections that may wait for a TLS handshake to be told why; beyond this,
    /// refusals are closed at once so that refusing never costs more than serving.
    static let maximumPoliteRefusals = 64

    private let perAddress: Int
    private let total: Int
    private let counts = NIOLockedValueBox(Counts())

    /// Limits of 0 mean unlimited.
    init(perAddress: Int, total: Int) {
        self.perAddress = perAddress
        self.total = total
    }

    /// The key connections are counted under: the IP address without the port.
    static func key(for address: SocketAddress?) -> String {
        address?.ipAddress ?? "unknown"
    }

    /// Admits a connection from `key`, or says why not.
    func admit(_ key: String) -> String? {
        counts.withLockedValue { counts in
            if total > 0, counts.total >= total {
                return "the server is full (\(total) connections)"
            }
            let current = counts.byAddress[key, default: 0]
            if perAddress > 0, current >= perAddress {
                return "there are already \(perAddress) connections from \(key)"
            }
            counts.total += 1
            counts.byAddress[key] = current + 1
            return nil
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
        counts.withLockedValue { counts in
            counts.total -= 1
            let remaining = counts.byAddress[key, default: 1] - 1
            counts.byAddress[key] = remaining > 0 ? remaining : nil
        }
    }

    var openConnections: Int { counts.withLockedValue { $0.total } }
}
