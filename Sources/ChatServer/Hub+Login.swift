import ChatProtocol
import ChatStore
import NIOCore

/// Logging in and leaving: admission (names, passwords, reservations, duplicates), what a
/// login replays, and accounts.
extension Hub {
    // MARK: - Login and leaving

    /// What a successful login needs to finish: the reply's contents and the history to load.
    struct LoginTicket: Sendable {
        var name: String
        var key: String
        var userList: [String]
        var history: HistoryRequest
        /// What the welcome adds about the name (its reservation, a past that is not theirs).
        var notice: String?
        /// The user as recorded at this login (what a cluster's claim puts online).
        var user: KnownUser
    }

    enum LoginOutcome: Sendable {
        case accepted(LoginTicket)
        case rejected(String)
        /// An operator banned the name or the address: what to say.
        case banned(String)
        /// The name is registered and the login did not prove the password.
        case needsPassword(String)
    }

    /// Registers `connection` as `name`. From here on it receives every event (the session
    /// holds them back until its login reply is sent); everyone else is told it joined.
    /// - Parameter authenticatedHash: the encoded password hash the login's password was just
    ///   checked against, for a registered name; it also lifts the name's reservation.
    /// - Parameter offersAccounts: the client negotiated `accounts`, so it can register and log
    ///   in with a password: what it is told about reservations says so.
    func login(name: String, connection: ClientConnection, authenticatedHash: String? = nil, offersAccounts: Bool = false) -> LoginOutcome {
        if let problem = rules.problem(with: name) { return .rejected(problem) }
        let key = UsernameRules.key(name)
        let skeleton = UsernameLookalikes.skeleton(name)
        let joined = encode(Frame(usersJoined: [name]))
        let bannedAt = configuration.clock.secondsSinceEpoch()
        if let ban = bans.withLockedValue({ $0.ban(forName: key, at: bannedAt) ?? $0.ban(forAddress: connection.address, at: bannedAt) }) {
            return .banned(ban.refusalText(at: bannedAt))
        }
        return state.withLockedValue { state in
            guard state.accepting else { return .rejected("The server is shutting down.") }
            if state.users[key] == nil, let problem = state.lookalikeProblem(name, skeleton: skeleton) {
                return .rejected(problem)
            }
            if let registered = state.accounts[key], registered != authenticatedHash {
                return .needsPassword(Self.registeredNameText(state.users[key]?.name ?? name))
            }
            if state.presence.isOnline(key) {
                let current = state.users[key]?.name ?? name
                return .rejected("The username \(current) is already in use. Please choose another.")
            }
            let now = configuration.clock.secondsSinceEpoch()
            let known = state.users[key]
            var newHolder = known == nil
            if authenticatedHash == nil, let known {
                switch state.reservations.verdict(for: known, from: connection.address, now: now) {
                case .holder:
                    break
                case .reserved(let remaining):
                    return .rejected(state.reservedText(known.name, remaining: remaining, offersAccounts: offersAccounts))
                case .newHolder:
                    newHolder = true
                }
            }
            let through = state.lastDelivered
            var user = KnownUser(
                name: name, deliveredThrough: through, address: connection.address, lastSeen: now,
                heldSince: known?.heldSince ?? 0, heldSinceTime: known?.heldSinceTime ?? 0)
            var notice = state.reservationNotice(name, registered: state.accounts[key] != nil, offersAccounts: offersAccounts)
            if newHolder {
                // What the name received, sent and stored before is not this holder's.
                user.heldSince = through
                user.heldSinceTime = now
                if let known {
                    notice = "The name \(name) was used from another address before (last \(describeAgo(seconds: now - known.lastSeen)) ago); its messages and files from then are not shown to you." + (notice.map { " " + $0 } ?? "")
                    for blocked in state.blocks.blocked(by: key) {
                        let relation = BlockRelation(blocker: key, blocked: blocked)
                        state.blocks.remove(relation)
                        stage(.store(.unblock(relation)), for: connection)
                    }
                }
            }
            let pendingAfter = newHolder ? through : max(known?.deliveredThrough ?? through, user.heldSince)
            stage(.store(.user(user)), for: connection)
            if state.users.updateValue(user, forKey: key) == nil { state.lookalikes[skeleton, default: []].append(key) }
            // In a cluster everyone hears of the login when it comes back from the shared log
            // (``applyLog(_:)``), in its place among the other servers' events.
            if cluster == nil { enqueueToEveryone(joined, except: nil, state: state) }
            state.presence.insert(connection, key: key, name: name)
            let userList = state.presence.sortedNames
            let request = HistoryRequest(
                userKey: key,
                excludedSenders: state.blocks.separated(from: key),
                limit: configuration.historyLimit,
                throughSequence: through,
                pendingAfter: pendingAfter,
                recentBroadcasts: state.recentBroadcasts.window,
                directMessagesAfter: user.heldSince
            )
            return .accepted(LoginTicket(name: name, key: key, userList: userList, history: request, notice: notice, user: user))
        }
    }

    /// What a login without the password of registered name `name` is told.
    static func registeredNameText(_ name: String) -> String {
        "The username \(name) is registered: log in with its password, or choose another name."
    }

    func leave(_ connection: ClientConnection, key: String) {
        state.withLockedValue { state in
            guard state.presence.remove(connection, key: key) else { return }
            var user = state.users[key] ?? KnownUser(name: key, deliveredThrough: 0)
            user.deliveredThrough = state.lastDelivered
            // The name stays with this address, from now on (its reservation).
            user.address = connection.address
            user.lastSeen = configuration.clock.secondsSinceEpoch()
            state.users[key] = user
            if let cluster {
                // Its place online is given up in the shared log; everyone (here too) hears of
                // it from there.
                stage(.store(.left(user, node: cluster.node)), for: connection)
            } else {
                stage(.store(.user(user)), for: connection)
                enqueueToEveryone(encode(Frame(usersLeft: [user.name])), except: nil, state: state)
            }
        }
    }

    // MARK: - Accounts

    /// The encoded password hash of the registered name `key`, if it is registered.
    func accountHash(forKey key: String) -> String? {
        state.withLockedValue { $0.accounts[key] }
    }

    /// Records (or, with `nil`, removes) the password hash of the user `key`, logged in on
    /// `connection`; returns what to tell them.
    func setAccount(key: String, passwordHash: String?, connection: ClientConnection) -> [String] {
        state.withLockedValue { state in
            let name = state.users[key]?.name ?? key
            let existed = state.accounts[key] != nil
            guard passwordHash != nil || existed else { return ["\(name) is not registered."] }
            stage(.store(.account(key: key, passwordHash: passwordHash)), for: connection)
            state.accounts[key] = passwordHash
            // Whoever set the password knows it; whoever knew the old one no longer counts.
            loginAttempts.passwordChanged(for: key, from: passwordHash == nil ? nil : connection.address)
            if passwordHash == nil {
                return ["\(name) is no longer registered: anyone may use the name when you are away."]
            }
            return existed
                ? ["Password changed for \(name)."]
                : ["Registered \(name): from now on this name needs its password to log in, from any address."]
        }
    }

    /// Checks a password at login on the login threads; completes on `eventLoop`.
}
