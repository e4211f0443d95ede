import ChatProtocol
import ChatStore
import NIOCore

/// Who runs an operator command: an operator from their chat client, or the administration
/// socket. What the log says did it.
struct OperatorIdentity: Sendable, CustomStringConvertible {
    /// What users are told did it ("alice", "the administrator").
    var name: String
    /// The operator's user key; `nil` for the socket.
    var key: String?
    /// The address the operator connects from; `nil` for the socket.
    var address: String?
    /// How the log names them.
    var description: String

    static func user(name: String, key: String, address: String) -> OperatorIdentity {
        OperatorIdentity(name: name, key: key, address: address, description: "operator \(name) (from \(address))")
    }

    static func socket(_ caller: String) -> OperatorIdentity {
        OperatorIdentity(name: "the administrator", key: nil, address: nil, description: "the admin socket (\(caller))")
    }
}

/// An operator command, its operands checked.
enum AdminRequest: Sendable, Equatable {
    case kick(name: String, reason: String)
    case ban(Ban.Target, display: String, duration: Int64?, reason: String)
    case unban(Ban.Target, display: String)
    case bans
    case announce(String)

    /// The request `command` asks for, or what is wrong with it (a usage line).
    static func parse(_ command: ChatCommand) -> Result<AdminRequest, AdminUsageError> {
        switch command {
        case .kick(let operand):
            guard let (word, rest) = split(operand), let name = ChatCommand.username(in: word) else {
                return .failure(AdminUsageError("Usage: /Kick <username> [reason]"))
            }
            return .success(.kick(name: name, reason: rest))
        case .ban(let operand):
            guard let (word, rest) = split(operand), let (target, display) = target(word) else {
                return .failure(AdminUsageError("Usage: /Ban <username|address[/prefix]> [duration: 30m, 2h, 7d, 4w] [reason]"))
            }
            var reason = rest
            var duration: Int64?
            if let (first, after) = split(rest), let seconds = durationSeconds(first) {
                duration = seconds
                reason = after
            }
            return .success(.ban(target, display: display, duration: duration, reason: reason))
        case .unban(let operand):
            guard let (word, rest) = split(operand), rest.isEmpty, let (target, display) = target(word) else {
                return .failure(AdminUsageError("Usage: /Unban <username|address[/prefix]>"))
            }
            return .success(.unban(target, display: display))
        case .bans:
            return .success(.bans)
        case .announce(let operand):
            guard let text = operand, !text.isEmpty else { return .failure(AdminUsageError("Usage: /Announce <text>")) }
            return .success(.announce(text))
        default:
            return .failure(AdminUsageError("Not an operator command."))
        }
    }

    /// The first word of `operand` and the rest (trimmed); `nil` when there is no word.
    private static func split(_ operand: String?) -> (String, String)? {
        guard let operand else { return nil }
        let trimmed = Substring(operand).drop { $0.isWhitespace }
        let word = trimmed.prefix { !$0.isWhitespace }
        guard !word.isEmpty else { return nil }
        return (String(word), String(trimmed.dropFirst(word.count).drop { $0.isWhitespace }))
    }

    /// An address or network ("203.0.113.7", "203.0.113.0/24", "2001:db8::/48"), or a name.
    private static func target(_ word: String) -> (Ban.Target, String)? {
        if let network = IPNetwork(word) { return (.network(network.description), network.description) }
        guard let name = ChatCommand.username(in: word) else { return nil }
        return (.name(UsernameRules.key(name)), name)
    }

    /// "90s", "30m", "12h", "7d", "4w": seconds; `nil` for anything else.
    static func durationSeconds(_ word: String) -> Int64? {
        guard let unit = word.last, let count = Int64(word.dropLast()), count > 0, count < 1_000_000 else { return nil }
        switch unit {
        case "s": return count
        case "m": return count * 60
        case "h": return count * 3600
        case "d": return count * 86_400
        case "w": return count * 604_800
        default: return nil
        }
    }
}

/// A mistake in an operator command's operands.
struct AdminUsageError: Error, Equatable {
    var text: String
    init(_ text: String) { self.text = text }
}

/// Administration: operators, kicks, bans and announcements (``AdminRequest``), from an
/// operator's chat client (``SessionHandler``) or the administration socket (``AdminSocket``).
extension Hub {
    /// The answer to an operator command.
    enum AdminAnswer: Sendable, Equatable {
        case lines([String])
        case error(String)
    }

    /// The settings that may change while the server runs.
    var liveSettings: LiveSettings { live.withLockedValue { $0 } }

    /// Whether the user `key`, logged in with a password (`authenticated`) or not, is an
    /// operator: named in the settings, and registered — a name nobody registered is anyone's.
    func isOperator(key: String, authenticated: Bool) -> Bool {
        guard authenticated, live.withLockedValue({ $0.operatorKeys.contains(key) }) else { return false }
        return state.withLockedValue { $0.accounts[key] != nil }
    }

    /// The ban that keeps a connection from `address` out now, if any.
    func addressBan(_ address: String) -> Ban? {
        let now = configuration.clock.secondsSinceEpoch()
        return bans.withLockedValue { $0.ban(forAddress: address, at: now) }
    }

    /// Runs `request` for `actor`; what to tell them. Everything done is logged with who did it.
    func administer(_ request: AdminRequest, by actor: OperatorIdentity) -> AdminAnswer {
        switch request {
        case .kick(let name, let reason):
            return kick(name: name, reason: reason, by: actor)
        case .ban(let target, let display, let duration, let reason):
            return ban(target, display: display, duration: duration, reason: reason, by: actor)
        case .unban(let target, let display):
            let lifted = bans.withLockedValue { $0.remove(target) }
            guard lifted != nil else { return .error("There is no ban on \(display).") }
            stageMaintenance([.unban(target)])
            logger.notice("\(actor) lifted the ban on \(display)")
            return .lines(["The ban on \(display) is lifted."])
        case .bans:
            let now = configuration.clock.secondsSinceEpoch()
            let active = bans.withLockedValue { $0.active(at: now) }
            if active.isEmpty { return .lines(["No bans in force."]) }
            return .lines(["Bans in force (\(active.count)):"] + active.map { "  " + $0.listingLine(at: now) })
        case .announce(let text):
            guard text.utf8.count <= configuration.maximumContentBytes else {
                return .error("Not announced: the text is longer than the limit of \(configuration.maximumContentBytes) bytes.")
            }
            let count = state.withLockedValue { state in
                enqueueToEveryone(encode(Frame(info: Self.announcementText(text, by: actor.name))), except: nil, state: state)
                return state.presence.count
            }
            if cluster != nil { stageMaintenance([.announce(text: text, by: actor.name)]) }
            logger.notice("\(actor) announced: \(text)")
            return .lines(["Announced to \(count) user\(count == 1 ? "" : "s") online."])
        }
    }

    static func announcementText(_ text: String, by name: String) -> String {
        "Announcement from \(name): \(text)"
    }

    static func kickText(by name: String, reason: String) -> String {
        "You were disconnected by \(name)" + (reason.isEmpty ? "." : ": \(reason)")
    }

    private func kick(name: String, reason: String, by actor: OperatorIdentity) -> AdminAnswer {
        let key = UsernameRules.key(name)
        if key == actor.key { return .error("You cannot kick yourself.") }
        let found: (connection: ClientConnection?, remote: Bool, name: String)? = state.withLockedValue { state in
            let current = state.users[key]?.name ?? name
            if let connection = state.presence[key] { return (connection, false, current) }
            if state.presence.isOnlineElsewhere(key) { return (nil, true, current) }
            return nil
        }
        guard let found else { return .error("\(name) is not online.") }
        if let connection = found.connection {
            disconnect(connection, reason: Self.kickText(by: actor.name, reason: reason))
        } else {
            // Online on another server of the cluster: it disconnects them when it reads this.
            stageMaintenance([.kick(key: key, reason: reason, by: actor.name)])
        }
        logger.notice("\(actor) kicked \(found.name)\(reason.isEmpty ? "" : ": \(reason)")")
        return .lines(["\(found.name) was disconnected."])
    }

    private func ban(_ target: Ban.Target, display: String, duration: Int64?, reason: String, by actor: OperatorIdentity) -> AdminAnswer {
        switch target {
        case .name(let key):
            if key == actor.key { return .error("You cannot ban yourself.") }
            if key == UsernameRules.key(configuration.serverName) || key == UsernameRules.key(ChatMessage.broadcastDestination) {
                return .error("\(display) cannot be banned.")
            }
        case .network(let text):
            if let address = actor.address, let bytes = IPNetwork.bytes(ofAddress: address), IPNetwork(text)?.contains(bytes) == true {
                return .error("Not banned: \(text) holds your own address (\(address)).")
            }
        }
        let now = configuration.clock.secondsSinceEpoch()
        let ban = Ban(target: target, display: display, reason: reason, by: actor.name, since: now, until: duration.map { now + $0 })
        bans.withLockedValue { $0.insert(ban) }
        stageMaintenance([.ban(ban)])
        let removed = disconnectBanned(ban, at: now)
        logger.notice("\(actor) banned \(display) \(ban.termText(at: now))\(reason.isEmpty ? "" : ": \(reason)")")
        var line = "Banned \(display) \(ban.termText(at: now))."
        if !removed.isEmpty { line += " Disconnected: " + Self.list(removed) + "." }
        return .lines([line])
    }

    /// Disconnects the users online here whom `ban` covers; their names.
    @discardableResult
    func disconnectBanned(_ ban: Ban, at now: Int64) -> [String] {
        let text = "You were banned by \(ban.by) \(ban.termText(at: now)). Reason: \(ban.reason.isEmpty ? "none given" : ban.reason)"
        let covered: [(ClientConnection, String)] = state.withLockedValue { state in
            switch ban.target {
            case .name(let key):
                guard let connection = state.presence[key] else { return [] }
                return [(connection, state.users[key]?.name ?? ban.display)]
            case .network(let text):
                guard let network = IPNetwork(text) else { return [] }
                return state.presence.byKey.compactMap { key, connection in
                    guard let bytes = IPNetwork.bytes(ofAddress: connection.address), network.contains(bytes) else { return nil }
                    return (connection, state.users[key]?.name ?? key)
                }
            }
        }
        for (connection, _) in covered { disconnect(connection, reason: text) }
        return covered.map(\.1)
    }

    /// Tells the user on `connection` `reason` (ERROR) and closes it, on its loop; everyone
    /// else hears that they left as for any leave.
    func disconnect(_ connection: ClientConnection, reason: String) {
        connection.eventLoop.execute {
            connection.session?.disconnect(reason: reason)
        }
    }

    /// An operator's action another server of the cluster wrote to the log: applied to the
    /// users here.
    func applyRemoteAdministration(_ operation: StoreOperation, state: inout State) {
        let now = configuration.clock.secondsSinceEpoch()
        switch operation {
        case .ban(let ban):
            bans.withLockedValue { $0.insert(ban) }
            // After the state lock is released: disconnecting takes it again.
            let hub = self
            outboxes[0].eventLoop.execute { hub.disconnectBanned(ban, at: now) }
        case .unban(let target):
            _ = bans.withLockedValue { $0.remove(target) }
        case .kick(let key, let reason, let by):
            if let connection = state.presence[key] {
                disconnect(connection, reason: Self.kickText(by: by, reason: reason))
            }
        case .announce(let text, let by):
            enqueueToEveryone(encode(Frame(info: Self.announcementText(text, by: by))), except: nil, state: state)
        default:
            break
        }
    }

    /// Who is online, one line each (name, address or server, operator), for the socket's `who`.
    func whoLines() -> [String] {
        let operators = live.withLockedValue { $0.operatorKeys }
        return state.withLockedValue { state in
            var lines: [String] = []
            for (key, connection) in state.presence.byKey.sorted(by: { $0.key < $1.key }) {
                let name = state.users[key]?.name ?? key
                let role = operators.contains(key) && state.accounts[key] != nil ? " (operator)" : ""
                lines.append("\(name) from \(connection.address)\(role)")
            }
            for (_, remote) in state.presence.remote.sorted(by: { $0.key < $1.key }) {
                lines.append("\(remote.name) on server \(remote.node)")
            }
            return ["Online (\(lines.count)):"] + lines.map { "  " + $0 }
        }
    }
}
