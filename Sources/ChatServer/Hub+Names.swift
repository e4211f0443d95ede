import ChatProtocol
import ChatStore

/// Who may take a name: lookalikes of known users, reservations. Callers hold the hub's lock.
extension Hub.State {
    /// Why a login from another address may not have the unregistered name `name`, reserved
    /// for `remaining` seconds more, and what to do about it. A client that negotiated
    /// accounts can register; a plain client cannot send a password, so it is not told to.
    func reservedText(_ name: String, remaining: Int64, offersAccounts: Bool) -> String {
        let held = describeDuration(reservations.duration)
        let start = "The username \(name) is reserved for another \(describeDuration(.seconds(remaining))) for the address that last used it: a name that is not registered stays with its address for \(held) after its user leaves."
        if offersAccounts {
            return start + " If it is yours and you are on another network now, connect once from the network you used before and type /Register <password>: a registered name works from any address. Otherwise please choose another name."
        }
        return start + " If it is yours, connect from the network you used before. Otherwise please choose another name."
    }

    /// What an unregistered user is told at login about keeping their name; `nil` for a
    /// registered name (its password protects it).
    func reservationNotice(_ name: String, registered: Bool, offersAccounts: Bool) -> String? {
        guard !registered else { return nil }
        let register = offersAccounts ? " Type /Register <password> to keep it from any address." : ""
        guard reservations.duration > .zero else {
            return offersAccounts ? "\(name) is not registered: anyone may take it when you leave." + register : nil
        }
        return "\(name) is not registered: it stays reserved for this address for \(describeDuration(reservations.duration)) after you leave." + register
    }

    /// Why the new name `name` (skeleton `skeleton`) may not join the known users, or `nil`:
    /// it looks like one of them, across scripts or mixing scripts (``UsernameLookalikes``).
    func lookalikeProblem(_ name: String, skeleton: String) -> String? {
        for key in lookalikes[skeleton] ?? [] {
            guard let known = users[key], !UsernameLookalikes.mayCoexist(name, with: known.name) else { continue }
            return "The username \(name) looks like \(known.name), who already uses this server, but is spelled with other characters. Please choose another."
        }
        return nil
    }
}

/// Forgetting users nobody needs to remember (issue 21 item 9): never registered, unseen for
/// the configured time, nothing stored for them. Without it the users table would keep a row
/// per throwaway name forever.
extension Hub {
    /// Forgets up to `limit` users last seen at or before `lastSeenAtMost` (seconds since the
    /// epoch) who are offline, unregistered, block nobody and are blocked by nobody, have no
    /// file stored or under way and no direct message waiting; returns how many. Reads the
    /// store: call on the thread pool.
    func forgetStaleUsers(lastSeenAtMost: Int64, limit: Int) -> Int {
        let shelf = fileShelf
        let candidates: [(key: String, user: KnownUser)] = state.withLockedValue { state in
            var found: [(key: String, user: KnownUser)] = []
            for (key, user) in state.users where found.count < limit && state.isForgettable(key, user, lastSeenAtMost: lastSeenAtMost) {
                found.append((key, user))
            }
            return found
        }
        let confirmed = candidates.filter { candidate in
            guard shelf?.involves(candidate.key) != true else { return false }
            let after = max(candidate.user.deliveredThrough, candidate.user.heldSince)
            return (try? store.hasDirectMessages(to: candidate.key, after: after)) == false
        }
        let forgotten: [StoreOperation] = state.withLockedValue { state in
            var operations: [StoreOperation] = []
            for candidate in confirmed {
                // Seen again, or blocked, meanwhile: kept.
                guard let user = state.users[candidate.key], user == candidate.user,
                      state.isForgettable(candidate.key, user, lastSeenAtMost: lastSeenAtMost)
                else { continue }
                state.users[candidate.key] = nil
                let skeleton = UsernameLookalikes.skeleton(user.name)
                state.lookalikes[skeleton]?.removeAll { $0 == candidate.key }
                if state.lookalikes[skeleton]?.isEmpty == true { state.lookalikes[skeleton] = nil }
                operations.append(.forgetUser(key: candidate.key, lastSeenAtMost: lastSeenAtMost))
            }
            return operations
        }
        stageMaintenance(forgotten)
        return forgotten.count
    }
}

extension Hub.State {
    /// What the hub's memory can tell of whether the user `key` may be forgotten.
    func isForgettable(_ key: String, _ user: KnownUser, lastSeenAtMost: Int64) -> Bool {
        user.lastSeen > 0 && user.lastSeen <= lastSeenAtMost && presence[key] == nil && accounts[key] == nil
            && blocks.separated(from: key).isEmpty
    }
}
