import NIOCore

/// Names that stay with the address that last used them for a while after their user left
/// (the seed's "remembering what IP is associated with a username").
///
/// Kept in memory only: a restart releases every reservation. Expired entries are dropped
/// whenever the table has doubled since the last sweep, so it never holds more than twice the
/// names that left within one reservation period.
struct NameReservations {
    private struct Reservation {
        var address: String
        var until: NIODeadline
    }

    /// How long a name stays reserved; zero switches reservations off.
    let duration: TimeAmount
    private var byKey: [String: Reservation] = [:]
    private var sweepAt = 64

    init(duration: TimeAmount) {
        self.duration = duration
    }

    var count: Int { byKey.count }

    /// The user `key` left from `address` at `now`: the name is theirs until `now + duration`.
    mutating func reserve(_ key: String, for address: String, now: NIODeadline) {
        guard duration > .zero else { return }
        byKey[key] = Reservation(address: address, until: now + duration)
        if byKey.count >= sweepAt {
            byKey = byKey.filter { $0.value.until > now }
            sweepAt = max(64, byKey.count * 2)
        }
    }

    /// How much longer `key` stays reserved against a login from `address`; `nil` when that
    /// login may have the name (no reservation, expired, or the same address).
    mutating func remaining(for key: String, from address: String, now: NIODeadline) -> TimeAmount? {
        guard let reservation = byKey[key] else { return nil }
        guard reservation.until > now else {
            byKey[key] = nil
            return nil
        }
        return reservation.address == address ? nil : reservation.until - now
    }

    /// The name is in use again: its reservation, if any, is over.
    mutating func release(_ key: String) {
        byKey[key] = nil
    }
}
