import ChatProtocol
import ChatStore

/// The commands the server runs for any client (`/Help`, `/Block`, `/History`, …).
extension Hub {
    /// What a command produced for the user who ran it.
    enum CommandReply: Sendable, Equatable {
        /// Lines to send as messages from the server's pseudo-user.
        case lines([String])
        /// A mistake in the command: sent as ERROR.
        case error(String)
        /// Say goodbye and close the connection.
        case quit(String)
        /// Hash this password off the loop, then record it with ``setAccount(key:passwordHash:connection:)``.
        case register(String)
        /// Load this page of history or search results (``pageWork(for:query:)``) and send it.
        case page(HistoryQuery)
        /// List the files the user may fetch (off the loop, within the request budget).
        case files
    }

    static let passwordLengthText = "\(PasswordHash.allowedLength.lowerBound) to \(PasswordHash.allowedLength.upperBound) bytes, no spaces at either end"

    /// Runs `command` for the user `key` on `connection` (on its loop).
    func perform(_ command: ChatCommand, for key: String, on connection: ClientConnection) -> CommandReply {
        switch command {
        case .help:
            return .lines(["Commands:"] + ChatCommand.helpLines + ["Start a message with // to send text beginning with /."])
        case .quit:
            return .quit("Goodbye!")
        case .name:
            let name = state.withLockedValue { $0.users[key]?.name ?? key }
            return .lines(["You are logged in as \(name)."])
        case .block(let operand):
            return changeBlock(operand, for: key, blocking: true, connection: connection)
        case .unblock(let operand):
            return changeBlock(operand, for: key, blocking: false, connection: connection)
        case .blocked:
            let names = state.withLockedValue { state in
                state.blocks.blocked(by: key).map { state.users[$0]?.name ?? $0 }
            }
            if names.isEmpty { return .lines(["You have not blocked anyone."]) }
            return .lines(["You have blocked (\(names.count)): " + Self.list(names)])
        case .displayUsers:
            let names = state.withLockedValue { state in state.presence.byKey.keys.map { state.users[$0]?.name ?? $0 } }
            return .lines(["Online now (\(names.count)): " + Self.list(names)])
        case .displayAllUsers:
            let names = state.withLockedValue { state in state.users.values.map(\.name) }
            return .lines(["Everyone who has been here (\(names.count)): " + Self.list(names)])
        case .register(let password):
            guard let password else { return .error("Usage: /Register <password> (\(Self.passwordLengthText))") }
            guard PasswordHash.allowedLength.contains(password.utf8.count) else {
                return .error("Not registered: the password must be \(Self.passwordLengthText).")
            }
            return .register(password)
        case .unregister:
            return .lines(setAccount(key: key, passwordHash: nil, connection: connection))
        case .history(let operand):
            guard let operand else { return .page(HistoryQuery(limit: 20)) }
            guard let count = Int(operand), (1...HistoryQuery.maximumLimit).contains(count) else {
                return .error("Usage: /History [N] with N from 1 to \(HistoryQuery.maximumLimit)")
            }
            return .page(HistoryQuery(limit: count))
        case .files:
            guard fileShelf != nil else { return .error("This server does not keep files.") }
            return .files
        case .send, .get:
            return .error("/Send and /Get need a client that transfers files (feature \"files\"), such as the Chatterbox client.")
        case .search(let operand):
            guard let operand else { return .error("Usage: /Search <words>") }
            if let problem = HistoryQuery.queryProblem(operand) { return .error(problem) }
            return .page(HistoryQuery(limit: HistoryQuery.defaultLimit, query: operand))
        case .kick, .ban, .unban, .bans, .announce:
            // The session runs these (SessionHandler+Admin), for operators only.
            return .error("Operator commands are not run here.")
        case .unknown(let word):
            return .error("Unknown command /\(word). Type /Help for the list of commands.")
        }
    }

    func changeBlock(_ operand: String?, for key: String, blocking: Bool, connection: ClientConnection) -> CommandReply {
        let verb = blocking ? "Block" : "UnBlock"
        guard let name = ChatCommand.username(in: operand) else {
            return .error("Usage: /\(verb) <username>")
        }
        let targetKey = UsernameRules.key(name)
        if targetKey == key { return .error("You cannot \(verb.lowercased()) yourself.") }
        if targetKey == UsernameRules.key(configuration.serverName) {
            return .error("\(configuration.serverName) is the server; it cannot be blocked.")
        }
        return state.withLockedValue { state in
            guard let target = state.users[targetKey] else {
                return .error("There is no user named \(name).")
            }
            let relation = BlockRelation(blocker: key, blocked: targetKey)
            if blocking {
                guard !state.blocks.contains(relation) else { return .lines(["\(target.name) is already blocked."]) }
                stage(.store(.block(relation)), for: connection)
                state.blocks.insert(relation)
                return .lines(["You blocked \(target.name). Neither of you will see the other's messages."])
            } else {
                guard state.blocks.contains(relation) else { return .lines(["\(target.name) is not blocked."]) }
                stage(.store(.unblock(relation)), for: connection)
                state.blocks.remove(relation)
                let reverse = BlockRelation(blocker: targetKey, blocked: key)
                if state.blocks.contains(reverse) {
                    return .lines(["You unblocked \(target.name), but they block you, so messages still cannot pass."])
                }
                return .lines(["You unblocked \(target.name)."])
            }
        }
    }

    static func list(_ names: [String], limit: Int = 500) -> String {
        let sorted = names.sorted { $0.lowercased() < $1.lowercased() }
        let shown = sorted.prefix(limit).joined(separator: ", ")
        return sorted.count > limit ? shown + ", and \(sorted.count - limit) more" : shown
    }
}
