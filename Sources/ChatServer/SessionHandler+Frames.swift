import ChatProtocol
import ChatStore

/// Frames from the client, once decoded: what they ask for (a login, messages, requests),
/// checked against the protocol and the user's budgets; messages go to the hub, commands are
/// run and answered.
extension SessionHandler {
    func handle(_ frame: Frame, hadProblems: Bool) {
        if isCompletingLogin {
            guard login.earlyFrameCount < hub.configuration.maximumFramesDuringLogin else {
                hub.metrics.limit(.loginFramesDropped)
                sendError("Too many frames sent before the login completed; this one was dropped.")
                return
            }
            login.keepEarly(frame)
            return
        }
        guard case .closed = state else {
            process(frame, hadProblems: hadProblems)
            return
        }
    }

    /// Whether a login is under way (password check or history), so frames wait for it.
    var isCompletingLogin: Bool {
        switch state {
        case .verifying, .loggingIn: true
        case .awaitingLogin, .live, .closed: false
        }
    }

    /// Extension keys a logged-in client may send as requests.
    private static let requestKeys = Set([Frame.Key.history, Frame.Key.search]).union(FileTransfer.Key.all)

    func process(_ frame: Frame, hadProblems: Bool) {
        var problems: [String] = []
        for key in [Frame.Key.usernameAccepted, Frame.Key.userList, Frame.Key.usersJoined, Frame.Key.usersLeft]
        where Self.isPresent(key, in: frame) {
            problems.append("\(key) is sent by servers, not by clients")
        }
        for member in frame.extensions
        where member.key != Frame.Key.features && member.key != Frame.Key.password && !Self.requestKeys.contains(member.key) {
            problems.append("unknown key \"\(member.key)\"")
        }
        if !problems.isEmpty { sendError("Ignored: " + problems.joined(separator: "; ") + ".") }
        // INFO and ERROR from a client are ignored: answering them could loop with a peer that
        // answers errors.

        let password = frame.extensionValue(Frame.Key.password)
        if let name = frame.username {
            switch state {
            case .awaitingLogin:
                if let password, password.stringValue == nil {
                    sendError("PASSWORD must be a string, got \(password.typeDescription); not logged in.")
                } else {
                    login(name: name, password: password?.stringValue, features: frame.features)
                }
            case .live(let user):
                sendError("You are already logged in as \(user.name).")
            case .verifying, .loggingIn, .closed:
                break
            }
        } else {
            if frame.extensionValue(Frame.Key.features) != nil, case .live = state {
                sendError("FEATURES is only accepted with USERNAME at login.")
            }
            if password != nil {
                sendError("PASSWORD is only accepted with USERNAME at login.")
            }
        }

        if let messages = frame.messages {
            switch state {
            case .awaitingLogin:
                sendError("Log in first: send {\"USERNAME\": \"your name\"}.")
            case .verifying, .loggingIn:
                login.keepEarly(Frame(messages: messages))
            case .live(let user):
                budgets.refreshMessageRate(from: hub)
                var dropped = 0
                for message in messages {
                    guard budgets.takeMessage() else {
                        dropped += 1
                        continue
                    }
                    handle(message, from: user)
                }
                if dropped > 0 {
                    hub.metrics.limit(.messageRateDropped, count: dropped)
                    let limits = hub.liveSettings
                    sendError(
                        "Slow down: \(dropped) message\(dropped == 1 ? " was" : "s were") not sent (at most \(Self.format(limits.messagesPerSecond)) per second, bursts of \(limits.messageBurst)).",
                        counted: false
                    )
                }
            case .closed:
                break
            }
        }

        for member in frame.extensions where Self.requestKeys.contains(member.key) {
            guard case .live(let user) = state else {
                if case .awaitingLogin = state { sendError("Log in first: send {\"USERNAME\": \"your name\"}.") }
                continue
            }
            if FileTransfer.Key.all.contains(member.key) {
                handleFileRequest(member.key, member.value, for: user)
                continue
            }
            switch HistoryQuery.parse(member.value, search: member.key == Frame.Key.search) {
            case .success(let query): sendPage(query, for: user, asCommand: false)
            case .failure(let problem): sendError(problem.text)
            }
        }

        if frame.isEmpty && !hadProblems {
            sendError("Empty frame: expected USERNAME or MESSAGES.")
        } else if frame.username == nil, frame.messages == nil, case .awaitingLogin = state,
                  frame.info == nil, frame.error == nil, problems.isEmpty, !hadProblems {
            sendError("Log in first: send {\"USERNAME\": \"your name\"}.")
        }
    }

    // MARK: - Messages and commands

    func handle(_ message: ChatMessage, from user: User) {
        // The name as logged in (the usual case) needs no key: computing one costs microseconds
        // for names beyond ASCII (normalisation).
        guard message.source == user.name || UsernameRules.key(message.source) == user.key else {
            sendError("Message not sent: SRC \"\(message.source)\" is not your username (\(user.name)).")
            return
        }
        let limit = hub.configuration.maximumContentBytes
        guard message.content.utf8.count <= limit else {
            sendError("Message not sent: it is longer than the limit of \(limit) bytes.")
            return
        }
        let destinationKey = UsernameRules.key(message.destination)
        let toServer = destinationKey == UsernameRules.key(hub.configuration.serverName)
        let toEveryone = destinationKey == UsernameRules.key(ChatMessage.broadcastDestination)
        if toEveryone || toServer, let command = ChatCommand.parse(message.content) {
            run(command, for: user)
            return
        }
        if toServer {
            reply(["I am the server. Type /Help for the list of commands."], to: user)
            return
        }
        var accepted = message
        accepted.content = ChatCommand.literalText(message.content)
        if case .rejected(let reason) = hub.submit(accepted, senderKey: user.key, from: connection) {
            sendError(reason, counted: false)
        }
    }

    func run(_ command: ChatCommand, for user: User) {
        if command.isOperatorCommand {
            runOperatorCommand(command, for: user)
            return
        }
        switch hub.perform(command, for: user.key, on: connection) {
        case .lines(var lines):
            if case .help = command, hub.isOperator(key: user.key, authenticated: user.authenticated) {
                lines += ["Operator commands:"] + ChatCommand.operatorHelpLines
            }
            reply(lines, to: user)
        case .error(let text):
            sendError(text, counted: false)
        case .quit(let text):
            close(after: Frame(messages: [pseudoMessage(text, to: user)]))
        case .register(let password):
            register(password, for: user)
        case .page(let query):
            sendPage(query, for: user, asCommand: true)
        case .files:
            listFiles(for: user, asCommand: true)
        }
    }

    /// Sends `lines` privately as messages from the server's pseudo-user, after the messages
    /// this user sent before the command.
    func reply(_ lines: [String], to user: User) {
        hub.deliverInOrder(FrameCoding.encode(Frame(messages: lines.map { pseudoMessage($0, to: user) })), to: connection)
    }

    func pseudoMessage(_ text: String, to user: User) -> ChatMessage {
        ChatMessage(source: hub.configuration.serverName, destination: user.name, timestamp: Hub.now(), content: text)
    }

    static func format(_ rate: Double) -> String {
        rate == rate.rounded() ? String(Int(rate)) : String(rate)
    }

    static func isPresent(_ key: String, in frame: Frame) -> Bool {
        switch key {
        case Frame.Key.usernameAccepted: frame.usernameAccepted != nil
        case Frame.Key.userList: frame.userList != nil
        case Frame.Key.usersJoined: frame.usersJoined != nil
        case Frame.Key.usersLeft: frame.usersLeft != nil
        default: false
        }
    }
}
