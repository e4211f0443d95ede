import NIOConcurrencyHelpers
import NIOCore

/// Limits password attempts per name and per address (token buckets), so that guessing a
/// password is slow and nobody can keep the server busy hashing.
///
/// Buckets that have refilled are forgotten whenever the table has doubled since the last
/// sweep: memory follows the names and addresses that tried recently.
final class LoginAttemptLimiter: Sendable {
    typealias Rule = ServerConfiguration.AttemptLimit

    private struct Buckets {
        var byName: [String: TokenBucket] = [:]
        var byAddress: [String: TokenBucket] = [:]
        var sweepAt = 256
    }

    private let perName: Rule
    private let perAddress: Rule
    private let clock: ServerClock
    private let buckets = NIOLockedValueBox(Buckets())

    init(perName: Rule, perAddress: Rule, clock: ServerClock) {
        self.perName = perName
        self.perAddress = perAddress
        self.clock = clock
    }

    /// Takes one attempt for `nameKey` from `address`; when either is over its limit, nothing
    /// is taken and the wait until the next attempt is returned.
    func attempt(nameKey: String, address: String) -> TimeAmount? {
        let now = clock.now()
        return buckets.withLockedValue { buckets in
            var name = buckets.byName[nameKey] ?? Self.bucket(perName, now: now)
            var from = buckets.byAddress[address] ?? Self.bucket(perAddress, now: now)
            let wait = max(name.timeUntilToken(now: now), from.timeUntilToken(now: now))
            guard wait == .zero else { return wait }
            _ = name.take(now: now)
            _ = from.take(now: now)
            buckets.byName[nameKey] = name
            buckets.byAddress[address] = from
            if buckets.byName.count + buckets.byAddress.count >= buckets.sweepAt {
                buckets.byName = buckets.byName.filter { var bucket = $0.value; return !bucket.isFull(now: now) }
                buckets.byAddress = buckets.byAddress.filter { var bucket = $0.value; return !bucket.isFull(now: now) }
                buckets.sweepAt = max(256, 2 * (buckets.byName.count + buckets.byAddress.count))
            }
            return nil
        }
    }

    private static func bucket(_ rule: Rule, now: NIODeadline) -> TokenBucket {
        TokenBucket(rate: 1e9 / Double(max(1, rule.interval.nanoseconds)), burst: rule.burst, now: now)
    }
}
