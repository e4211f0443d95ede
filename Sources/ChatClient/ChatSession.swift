public import ChatProtocol

/// The client's side of the protocol, without I/O: turns frames from the server into events,
/// and typed lines into frames to send or local answers.
///
/// Commands go to the server when it said (through `FEATURES`) that it runs them; against a
/// server that does not, the client answers them itself: `/Block` then filters incoming
/// messages locally, `/DisplayUsers` uses the presence it tracked, and so on.
public struct ChatSession: Sendable {
    /// Extensions this client asks for at login.
    public static let requestedFeatures = ["commands", "accounts", "history", "deflate", "files", "operators"]
    /// Passwords the server accepts, in UTF-8 bytes (PROTOCOL.md, Accounts).
    public static let passwordLength = 8...256

    /// What to do for a line the user typed.
    public enum Action: Sendable, Equatable {
        case send(Frame)
        case show(ChatEvent)
        case quit
        /// Ask for a secret (not echoed); the next line typed is it.
        case askSecret(SecretRequest)
        /// Start a file transfer or ask for the list (feature `files`).
        case file(FileCommand)
    }

    /// What the user asked of file transfer.
    public enum FileCommand: Sendable, Equatable {
        case send(path: String, to: String)
        /// /Get ID [PATH] [--force]: `force` allows replacing an existing file at PATH.
        case get(id: String, path: String?, force: Bool)
        case list
    }

    /// A secret the client asks the user for.
    public enum SecretRequest: Sendable, Equatable {
        /// The password of `name`, to log in.
        case loginPassword(name: String)
        /// A new password for /Register.
        case newPassword
    }

    public private(set) var username: String?
    /// Extensions the server enabled; empty for a plain server.
    public private(set) var enabledFeatures: Set<String> = []
    /// The server's pseudo-user (answers commands), when the server named one.
    public private(set) var serverUser: String?
    /// Users online, in the order the server listed or announced them.
    public private(set) var online: [String] = []
    /// Everyone seen in this session: online lists, joins, history.
    public private(set) var everyoneSeen: Set<String> = []
    /// Users blocked by this client itself (plain servers only), by key.
    public private(set) var locallyBlocked: [String: String] = [:]
    /// Whether the next login asks for extensions.
    public var asksForFeatures = true
    /// Lines a user interface adds to /Help (its own commands and keys).
    public var extraHelpLines: [String] = []
    /// Where /Get saves files, as the usage line says.
    public var downloadDirectoryForHelp = "the download directory"
    /// The password sent with every login (feature `accounts`), if the user gave one.
    public var password: String?
    /// Whether the last login refusal said the name needs its password.
    public private(set) var lastRefusalNeedsPassword = false
    /// Where /History continues (feature `history`): the cursor of the oldest message shown.
    public private(set) var historyCursor: Int64?
    /// Whether older history remains before ``historyCursor``.
    public private(set) var historyMore = true
    /// Whether the server's login acceptance answered FEATURES (with the extensions it
    /// enabled, possibly none): it understood them. A server that ignores the key does not.
    public private(set) var serverAnsweredFeatures = false
    /// The message rate the server advertised at login (`LIMITS`, PROTOCOL.md), if it did.
    public private(set) var advertisedMessageRate: MessageRate?
    /// Commands sent to the server and not answered yet, oldest first (by name), so that
    /// each answer is labelled with its command. Bounded: the oldest are forgotten.
    private var unansweredCommands: [String] = []
    static let unansweredCommandLimit = 64
    /// The deviations from the protocol already mentioned to the user (each once per run).
    private var notedLeniencies: Set<String> = []

    public init() {}

    /// Whether the server runs slash commands itself.
    public var serverRunsCommands: Bool { enabledFeatures.contains("commands") }

    /// Forgets what belonged to the connection that was lost (the login, the extensions the
    /// server enabled, who was online), keeping what the user decided: local blocks, and
    /// whether to ask for extensions (a server that refused them once will again).
    public mutating func startNewConnection() {
        username = nil
        enabledFeatures = []
        serverAnsweredFeatures = false
        advertisedMessageRate = nil
        serverUser = nil
        online = []
        unansweredCommands = []
        historyCursor = nil
        historyMore = true
    }

    /// Whether the server enabled accounts (PASSWORD at login, /Register).
    public var serverHasAccounts: Bool { enabledFeatures.contains("accounts") }
    /// Whether the server transfers files (feature `files`).
    public var serverHasFiles: Bool { enabledFeatures.contains("files") }
    /// Whether the server counts this user as an operator (feature `operators`): /Help lists
    /// the operator commands. (Any user may send them; the server refuses non-operators.)
    public var isOperator: Bool { enabledFeatures.contains("operators") }
    /// Whether frames may be compressed both ways (feature `deflate`).
    public var compresses: Bool { enabledFeatures.contains("deflate") }
    /// Whether the server pages and searches history (HISTORY, SEARCH).
    public var serverHasHistory: Bool { enabledFeatures.contains("history") }
    /// Whether the server is known to send the user's own messages back to them: Chatterbox
    /// servers do (PROTOCOL.md), and they are the ones that answer FEATURES. Other servers may
    /// not, so the client shows what it sends to them itself.
    public var serverEchoesOwnMessages: Bool { serverAnsweredFeatures }

    /// The login frame for `name`. The password goes only with FEATURES: a server that refused
    /// extensions gets the plain login of the base protocol.
    public func loginFrame(for name: String) -> Frame {
        var frame = Frame(username: name)
        if asksForFeatures {
            frame.features = Self.requestedFeatures
            if let password { frame.extensions.append(.init(key: Frame.Key.password, value: .string(password))) }
        }
        return frame
    }

    // MARK: - From the server

    /// Updates the state from one frame and returns what to show, in display order.
    public mutating func receive(_ decoded: DecodedFrame, attemptedName: String? = nil) -> [ChatEvent] {
        var events: [ChatEvent] = []
        let frame = decoded.frame
        for problem in decoded.problems { events.append(.protocolProblem(problem)) }
        for leniency in decoded.leniencies where notedLeniencies.insert(leniency).inserted {
            events.append(.notice("This server bends the protocol (it sends \(leniency)); Chatterbox understands it anyway."))
        }
        if let accepted = frame.usernameAccepted {
            if accepted, username == nil {
                username = attemptedName ?? frame.username
                enabledFeatures = Set(frame.features ?? [])
                serverAnsweredFeatures = frame.features != nil
                advertisedMessageRate = frame.extensionValue(Frame.Key.limits).flatMap(MessageRate.init)
                if case .string(let name)? = frame.extensionValue("SERVER_USER") { serverUser = name }
                if let value = frame.extensionValue(Frame.Key.history), let page = HistoryPageInfo(value) {
                    historyCursor = page.before
                    historyMore = page.more
                }
                online = frame.userList ?? []
                everyoneSeen.formUnion(online)
                if let name = username, !online.contains(where: { $0.lowercased() == name.lowercased() }) {
                    online.append(name)
                }
                events.append(.welcome(info: frame.info, online: online))
            } else if !accepted {
                lastRefusalNeedsPassword = frame.extensionValue(Frame.Key.passwordRequired) == .bool(true)
                events.append(.loginRefused(frame.info ?? "The server refused that username."))
            }
        } else if let info = frame.info {
            events.append(.info(info))
        }
        if frame.usernameAccepted == nil, let users = frame.userList {
            online = users
            everyoneSeen.formUnion(users)
        }
        let historyPage = frame.usernameAccepted == nil ? frame.extensionValue(Frame.Key.history).flatMap(HistoryPageInfo.init) : nil
        let searchPage = frame.extensionValue(Frame.Key.search).flatMap(HistoryPageInfo.init)
        if let page = historyPage, page.before != nil || !page.more {
            historyCursor = page.before ?? historyCursor
            historyMore = page.more
        }
        // A frame holding only lines from the server's pseudo-user to the user answers the
        // oldest command sent (the server answers in order, one frame each).
        if let serverUser, let messages = frame.messages, !messages.isEmpty, frame.usernameAccepted == nil, historyPage == nil, searchPage == nil,
           messages.allSatisfy({ $0.source == serverUser && $0.destination.lowercased() == username?.lowercased() }),
           !unansweredCommands.isEmpty {
            events.append(.commandResult(command: unansweredCommands.removeFirst(), lines: messages.map(\.content), from: serverUser, isError: false))
            return events
        }
        if let messages = frame.messages {
            for message in messages { everyoneSeen.insert(message.source) }
            let visible = messages.filter { locallyBlocked[$0.source.lowercased()] == nil }
            if let page = historyPage {
                events.append(.earlierMessages(visible, more: page.more))
            } else if let page = searchPage {
                events.append(.searchResults(query: page.query ?? "", messages: visible, more: page.more))
            } else if frame.usernameAccepted == true {
                events.append(.history(visible))
            } else {
                events += visible.map(ChatEvent.message)
            }
        }
        for name in frame.usersJoined ?? [] {
            if !online.contains(name) { online.append(name) }
            everyoneSeen.insert(name)
            events.append(.joined(name))
        }
        for name in frame.usersLeft ?? [] {
            online.removeAll { $0 == name }
            events.append(.left(name))
        }
        if let error = frame.error {
            if error.hasPrefix("Slow down:") {
                // Commands may have been dropped: better no label than a wrong one.
                unansweredCommands = []
                events.append(.error(error))
            } else if frame.messages == nil, username != nil, let index = Self.commandRefused(by: error, among: unansweredCommands) {
                events.append(.commandResult(command: unansweredCommands.remove(at: index), lines: [error], from: serverUser, isError: true))
            } else {
                events.append(.error(error))
            }
        }
        return events
    }

    // MARK: - From the user

    /// What to do for one typed line, at time `now` (seconds since the epoch).
    public mutating func interpret(_ line: String, now: Int64) -> [Action] {
        switch InputParser.parse(line) {
        case .nothing:
            return []
        case .invalid(let reason):
            return [.show(.notice(reason))]
        case .message(let destination, let text):
            return sendMessage(text, to: destination, now: now)
        case .command(let command):
            let actions = run(command, typed: line, now: now)
            // A command the server runs is answered by it: remembered to label the answer.
            if serverRunsCommands, actions.contains(where: { if case .send(let frame) = $0 { frame.messages?.isEmpty == false } else { false } }) {
                unansweredCommands.append(Self.commandName(line))
                if unansweredCommands.count > Self.unansweredCommandLimit { unansweredCommands.removeFirst() }
            }
            return actions
        }
    }

    /// Which of `commands` (names, oldest first) an ERROR refuses. A server sends a refusal
    /// as soon as it sees the command, ahead of answers still on their way, so it is matched
    /// by what it says ("Usage: /Block …", "You cannot block yourself."), not by order.
    static func commandRefused(by error: String, among commands: [String]) -> Int? {
        let text = error.lowercased()
        if let index = commands.firstIndex(where: { text.contains("/" + $0.lowercased()) }) { return index }
        if let index = commands.firstIndex(where: { text.contains($0.lowercased()) }) { return index }
        if text.hasPrefix("there is no user named") || text.contains("cannot be blocked") {
            return commands.firstIndex { ["block", "unblock"].contains($0.lowercased()) }
        }
        if text.hasPrefix("not registered") { return commands.firstIndex { $0.lowercased() == "register" } }
        return nil
    }

    /// The command's name as /Help spells it ("DisplayUsers"), or as typed when unknown.
    static func commandName(_ line: String) -> String {
        let typed = line.trimmingTrailingNewline().dropFirst().prefix { !$0.isWhitespace }
        let known = (ChatCommand.helpLines + ChatCommand.operatorHelpLines).compactMap { line -> String? in
            guard line.hasPrefix("/") else { return nil }
            return String(line.dropFirst().prefix { !$0.isWhitespace })
        }
        return known.first { $0.lowercased() == typed.lowercased() } ?? String(typed)
    }

    private func sendMessage(_ text: String, to destination: String, now: Int64) -> [Action] {
        guard let username else { return [.show(.notice("You are not logged in yet."))] }
        if let blocked = locallyBlocked[destination.lowercased()] {
            return [.show(.notice("You have blocked \(blocked). Use /UnBlock \(blocked) first."))]
        }
        // A server that runs commands strips one slash from "//text"; a plain one does not.
        let content = serverRunsCommands ? text : ChatCommand.literalText(text)
        let message = ChatMessage(source: username, destination: destination, timestamp: now, content: content)
        return [.send(Frame(messages: [message]))]
    }

    private mutating func run(_ command: ChatCommand, typed line: String, now: Int64) -> [Action] {
        switch command {
        case .help:
            var lines = ["Commands (case does not matter):"] + ChatCommand.helpLines.map { "  " + $0 }
            lines.append("  //text - send text that starts with a slash")
            if isOperator {
                lines.append("Operator commands:")
                lines += ChatCommand.operatorHelpLines.map { "  " + $0 }
            }
            lines += extraHelpLines
            if !serverRunsCommands {
                lines.append("This server does not run commands itself; Chatterbox handles them locally (blocking only hides messages on this screen).")
            }
            return lines.map { .show(.notice($0)) }
        case .quit:
            return [.quit]
        case .register(let password):
            return register(password, now: now)
        case .unregister where serverHasAccounts:
            password = nil
        case .files where serverHasFiles:
            return [.file(.list)]
        case .send(let operand):
            guard serverHasFiles else { return [.show(.notice(runLocally(command)))] }
            guard var rest = operand else { return [.show(.notice("Usage: /Send [@username] <path>"))] }
            var destination = ChatMessage.broadcastDestination
            if rest.hasPrefix("@") {
                let name = rest.dropFirst().prefix { !$0.isWhitespace }
                destination = String(name)
                rest = String(rest.dropFirst(name.count + 1).drop { $0.isWhitespace })
            }
            guard !rest.isEmpty, !destination.isEmpty else { return [.show(.notice("Usage: /Send [@username] <path>"))] }
            return [.file(.send(path: rest, to: destination))]
        case .get(let operand):
            guard serverHasFiles else { return [.show(.notice(runLocally(command)))] }
            let usage = "Usage: /Get <id> [path] [--force] (into \(downloadDirectoryForHelp); a directory means into it; --force replaces an existing file)"
            guard let operand else { return [.show(.notice(usage))] }
            let id = operand.prefix { !$0.isWhitespace }
            var path = Substring(operand.dropFirst(id.count).drop { $0.isWhitespace })
            var force = false
            if path == "--force" || path.hasSuffix(" --force") {
                force = true
                path = path.dropLast("--force".count)
                while path.last?.isWhitespace == true { path.removeLast() }
            }
            guard !id.hasPrefix("-") else { return [.show(.notice(usage))] }
            return [.file(.get(id: String(id), path: path.isEmpty ? nil : String(path), force: force))]
        case .kick, .ban, .unban, .bans, .announce:
            // To the server's pseudo-user, never to ALL: a server that does not run them would
            // relay the line to everyone. The server refuses non-operators itself.
            guard serverRunsCommands, let username else { return [.show(.notice(runLocally(command)))] }
            let message = ChatMessage(
                source: username, destination: serverUser ?? ChatMessage.broadcastDestination, timestamp: now,
                content: line.trimmingTrailingNewline())
            return [.send(Frame(messages: [message]))]
        case .history(let operand) where serverHasHistory:
            return requestHistory(operand)
        case .search(let operand) where serverHasHistory:
            guard let words = operand else { return [.show(.notice("Usage: /Search <words>"))] }
            if let problem = HistoryQuery.queryProblem(words) { return [.show(.notice(problem))] }
            var frame = Frame()
            frame.extensions = [.init(key: Frame.Key.search, value: HistoryQuery(query: words).jsonValue)]
            return [.send(frame)]
        default:
            break
        }
        if serverRunsCommands, let username {
            let message = ChatMessage(source: username, destination: ChatMessage.broadcastDestination, timestamp: now, content: line.trimmingTrailingNewline())
            return [.send(Frame(messages: [message]))]
        }
        return [.show(.notice(runLocally(command)))]
    }

    /// /Register: the password goes to the server's pseudo-user only (never to "ALL"), and
    /// only to a server that enabled accounts; it is then sent with every later login.
    private mutating func register(_ given: String?, now: Int64) -> [Action] {
        guard serverHasAccounts, let username else {
            return [.show(.notice("This server does not support accounts: names cannot be registered here."))]
        }
        guard let given else { return [.askSecret(.newPassword)] }
        guard Self.passwordLength.contains(given.utf8.count) else {
            return [.show(.notice("Not registered: the password must be \(Self.passwordLength.lowerBound) to \(Self.passwordLength.upperBound) bytes."))]
        }
        password = given
        let destination = serverUser ?? ChatMessage.broadcastDestination
        let message = ChatMessage(source: username, destination: destination, timestamp: now, content: "/Register " + given)
        return [.send(Frame(messages: [message]))]
    }

    /// /History [N] as a HISTORY request continuing below the oldest message shown.
    private func requestHistory(_ operand: String?) -> [Action] {
        var count = 20
        if let operand {
            guard let given = Int(operand), (1...HistoryQuery.maximumLimit).contains(given) else {
                return [.show(.notice("Usage: /History [N] with N from 1 to \(HistoryQuery.maximumLimit)"))]
            }
            count = given
        }
        guard historyMore else { return [.show(.notice("No earlier messages: that was the beginning of the history."))] }
        var frame = Frame()
        frame.extensions = [.init(key: Frame.Key.history, value: HistoryQuery(before: historyCursor, limit: count).jsonValue)]
        return [.send(frame)]
    }

    /// A plain server knows none of the commands: answer from what this client has seen.
    private mutating func runLocally(_ command: ChatCommand) -> String {
        switch command {
        case .name:
            return "You are logged in as \(username ?? "(not logged in)")."
        case .block(let operand), .unblock(let operand):
            let blocking: Bool = if case .block = command { true } else { false }
            let verb = blocking ? "Block" : "UnBlock"
            guard let name = ChatCommand.username(in: operand) else { return "Usage: /\(verb) <username>" }
            if name.lowercased() == username?.lowercased() { return "You cannot \(verb.lowercased()) yourself." }
            if blocking {
                locallyBlocked[name.lowercased()] = name
                return "Blocked \(name) on this screen: their messages are hidden here. (This server does not support blocking, so \(name) still receives your broadcasts.)"
            }
            guard locallyBlocked.removeValue(forKey: name.lowercased()) != nil else { return "\(name) is not blocked." }
            return "Unblocked \(name)."
        case .blocked:
            let names = locallyBlocked.values.sorted()
            return names.isEmpty ? "You have not blocked anyone." : "You have blocked (\(names.count)): " + names.joined(separator: ", ")
        case .displayUsers:
            return "Online now (\(online.count)): " + online.sorted { $0.lowercased() < $1.lowercased() }.joined(separator: ", ")
        case .displayAllUsers:
            let names = everyoneSeen.sorted { $0.lowercased() < $1.lowercased() }
            return "Everyone seen since you connected (\(names.count)): " + names.joined(separator: ", ")
        case .unknown(let word):
            return "Unknown command /\(word). Type /Help for the list of commands."
        case .register, .unregister:
            return "This server does not support accounts: names cannot be registered here."
        case .history, .search:
            return "This server keeps no history beyond what it sends at login: /History and /Search are not available."
        case .files, .send, .get:
            return "This server does not transfer files: /Send, /Files and /Get are not available."
        case .kick, .ban, .unban, .bans, .announce:
            return "This server does not run commands: /Kick, /Ban, /Unban, /Bans and /Announce are not available."
        case .help, .quit:
            return ""
        }
    }
}
