import NIOConcurrencyHelpers
import NIOCore

/// Limits password attempts (token buckets), so that guessing a password is slow and nobody
/// can keep the server busy hashing — without letting a guesser lock the owner out.
///
/// Three limits apply to an attempt on a name from an address: per (name, address), per
/// address, and per name. The per-name limit stops guessing spread over many addresses, but
/// a lock on the name alone would let anyone keep its owner out with one wrong guess a second
/// from rotating addresses; so addresses that have logged in with the name's password before
/// (or registered it) are exempt from it, and only the first two limits apply to them.
///
/// Buckets that have refilled are forgotten whenever the table has doubled since the last
/// sweep: memory follows the names and addresses that tried recently. Trusted addresses are
/// kept for registered names only, the most recent few per name, in memory (a restart forgets
/// them: until the owner's next login, the per-name limit applies to them too).
final class LoginAttemptLimiter: Sendable {
    typealias Rule = ServerConfiguration.AttemptLimit

    private struct NameAndAddress: Hashable {
        var name: String
        var address: String
    }

    private struct Buckets {
        var byNameAndAddress: [NameAndAddress: TokenBucket] = [:]
        var byName: [String: TokenBucket] = [:]
        var byAddress: [String: TokenBucket] = [:]
        /// Name key → addresses that proved the password, least recent first.
        var trusted: [String: [String]] = [:]
        var sweepAt = 256

        var bucketCount: Int { byNameAndAddress.count + byName.count + byAddress.count }
    }

    /// Trusted addresses remembered per name: a few devices and networks.
    static let trustedAddressesPerName = 8

    private let perNameAndAddress: Rule
    private let perName: Rule
    private let perAddress: Rule
    private let clock: ServerClock
    private let buckets = NIOLockedValueBox(Buckets())

    init(perNameAndAddress: Rule, perName: Rule, perAddress: Rule, clock: ServerClock) {
        self.perNameAndAddress = perNameAndAddress
        self.perName = perName
        self.perAddress = perAddress
        self.clock = clock
    }

    /// Takes one attempt for `nameKey` from `address`; when any limit that applies is reached,
    /// nothing is taken and the wait until the next attempt is returned.
    func attempt(nameKey: String, address: String) -> TimeAmount? {
        let now = clock.now()
        let pair = NameAndAddress(name: nameKey, address: address)
        return buckets.withLockedValue { buckets in
            let exemptFromNameLimit = buckets.trusted[nameKey]?.contains(address) == true
            var fromPair = buckets.byNameAndAddress[pair] ?? Self.bucket(perNameAndAddress, now: now)
            var from = buckets.byAddress[address] ?? Self.bucket(perAddress, now: now)
            var name = exemptFromNameLimit ? nil : (buckets.byName[nameKey] ?? Self.bucket(perName, now: now))
            let wait = max(
                fromPair.timeUntilToken(now: now), from.timeUntilToken(now: now),
                name?.timeUntilToken(now: now) ?? .zero)
            guard wait == .zero else { return wait }
            _ = fromPair.take(now: now)
            _ = from.take(now: now)
            _ = name?.take(now: now)
            buckets.byNameAndAddress[pair] = fromPair
            buckets.byAddress[address] = from
            if let name { buckets.byName[nameKey] = name }
            if buckets.bucketCount >= buckets.sweepAt {
                buckets.byNameAndAddress = buckets.byNameAndAddress.filter { var bucket = $0.value; return !bucket.isFull(now: now) }
                buckets.byName = buckets.byName.filter { var bucket = $0.value; return !bucket.isFull(now: now) }
                buckets.byAddress = buckets.byAddress.filter { var bucket = $0.value; return !bucket.isFull(now: now) }
                buckets.sweepAt = max(256, 2 * buckets.bucketCount)
            }
            return nil
        }
    }

    /// `address` proved the password of `nameKey` (a login with it, or setting it): from now on
    /// the per-name limit does not apply to attempts on the name from there.
    func trust(_ address: String, for nameKey: String) {
        buckets.withLockedValue { buckets in
            var addresses = buckets.trusted[nameKey] ?? []
            addresses.removeAll { $0 == address }
            addresses.append(address)
            if addresses.count > Self.trustedAddressesPerName { addresses.removeFirst() }
            buckets.trusted[nameKey] = addresses
        }
    }

    /// The name's password was changed from `address` (or removed, `nil`): the addresses that
    /// knew the old one are trusted no longer.
    func passwordChanged(for nameKey: String, from address: String?) {
        buckets.withLockedValue { buckets in
            buckets.trusted[nameKey] = address.map { [$0] }
        }
    }

    private static func bucket(_ rule: Rule, now: NIODeadline) -> TokenBucket {
        TokenBucket(rate: 1e9 / Double(max(1, rule.interval.nanoseconds)), burst: rule.burst, now: now)
    }
}
