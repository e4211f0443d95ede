import ChatProtocol
import Foundation

/// The single consumer of everything the engine reacts to: typed lines, frames, connection
/// news and timers. It owns the protocol session and the connection state.
struct EngineLoop {
    let configuration: ChatEngine.Configuration
    let sink: AsyncStream<EngineInput>.Continuation
    let updates: @Sendable (ClientUpdate) -> Void

    private var session = ChatSession()
    private var status: ClientStatus
    private var publishedStatus: ClientStatus?

    /// Number of the current connection; news from older ones is ignored.
    private var connectionNumber = 0
    private var connectionTask: Task<Void, Never>?
    private var writer: FrameWriter?
    private var reconnectTimer: Task<Void, Never>?
    private var graceTimer: Task<Void, Never>?
    private var hasConnected = false
    private var hasLoggedIn = false

    /// The name to log in with as soon as a connection is up.
    private var desiredName: String?
    /// The name of the login awaiting the server's answer.
    private var pendingName: String?
    private var loginAttempt = 0
    /// Lines typed while not logged in, oldest first.
    private var queue: [String] = []
    private var inputEnded = false
    /// Set when the next typed line is a secret the client asked for.
    private var awaitedSecret: ChatSession.SecretRequest?
    /// Files being sent and fetched.
    private var files: FileTransferAgent

    /// Messages shown so far, to recognise the ones a server replays after a reconnection.
    private var seen = SeenMessages()
    /// Own messages shown when sent, to a server that may not send them back.
    private var localEchoes = LocalEchoes()
    /// Whether the login on the current connection offered FEATURES, whether anything came
    /// back on it, and when a login that offered them was accepted without an answer to them.
    private var offeredFeaturesHere = false
    private var heardFromServer = false
    private var acceptedWithoutFeaturesAt: ContinuousClock.Instant?
    /// Set while the server replays history after a re-login.
    private var replay: Replay?

    private struct Replay {
        var seen: SeenMessages
        var missed = 0
    }

    init(configuration: ChatEngine.Configuration, sink: AsyncStream<EngineInput>.Continuation, updates: @escaping @Sendable (ClientUpdate) -> Void) {
        self.configuration = configuration
        self.sink = sink
        self.updates = updates
        session.extraHelpLines = ["  /Reconnect - reconnect now instead of waiting (when disconnected)"] + configuration.extraHelpLines
        session.password = configuration.password
        session.asksForFeatures = configuration.offersExtensions
        files = FileTransferAgent(downloadDirectory: configuration.downloadDirectory ?? DownloadDestination.defaultDirectory())
        session.downloadDirectoryForHelp = files.downloadDirectory
        status = ClientStatus(host: configuration.host, port: configuration.port, security: SecurityLevel(configuration.security))
        if let name = configuration.initialUsername?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            desiredName = name
        }
    }

    mutating func run(_ incoming: AsyncStream<EngineInput>) async throws -> ChatEngine.Ending {
        connect()
        publishStatus()
        for await input in incoming {
            if let ending = try await handle(input) {
                status.phase = .closed
                publishStatus()
                return ending
            }
            publishStatus()
        }
        // The stream only ends when the task running the engine is cancelled.
        status.phase = .closed
        publishStatus()
        return .quit
    }

    /// Stops the timers and closes the connection.
    mutating func shutDown() async {
        reconnectTimer?.cancel()
        graceTimer?.cancel()
        connectionTask?.cancel()
        // A connection that is up closes at once; one still connecting is left to time out on
        // its own rather than hold up quitting.
        if writer != nil { await connectionTask?.value }
        writer = nil
    }

    // MARK: - Dispatch

    private mutating func handle(_ input: EngineInput) async throws -> ChatEngine.Ending? {
        switch input {
        case .line(let line):
            return await typed(line)
        case .endOfInput:
            inputEnded = true
            return nothingLeftToSend ? .quit : nil
        case .connected(let number, let writer, let address):
            guard number == connectionNumber else { return nil }
            self.writer = writer
            hasConnected = true
            offeredFeaturesHere = false
            heardFromServer = false
            acceptedWithoutFeaturesAt = nil
            status.phase = .loggingIn
            emit(.connection(.connected(address: address, security: status.security)))
            if let name = desiredName {
                await sendLogin(name)
            } else if inputEnded {
                return .quit
            } else {
                emit(.usernameNeeded(reason: nil))
            }
        case .frame(let number, let frame):
            guard number == connectionNumber else { return nil }
            heardFromServer = true
            if let ending = await receive(frame) { return ending }
            if inputEnded, nothingLeftToSend { return .quit }
        case .closed(let number, let reason):
            guard number == connectionNumber else { return nil }
            return connectionLost(reason)
        case .connectFailed(let number, let reason):
            guard number == connectionNumber else { return nil }
            // The very first connection failing is a configuration problem: say so at once.
            guard hasConnected else { throw ConnectionError(description: reason) }
            // Only the retry without extensions reconnects when reconnecting is off.
            guard configuration.reconnect.isEnabled else {
                emit(.connection(.lost(reason: reason, retryIn: nil)))
                return .serverClosed(reason)
            }
            status.failedAttempts += 1
            let delay = scheduleReconnect()
            emit(.connection(.attemptFailed(reason: reason, retryIn: delay)))
        case .loginGraceExpired(let attempt):
            // A server that answered our FEATURES with an ERROR and nothing else: log in plainly.
            if attempt == loginAttempt, let name = pendingName, session.username == nil, session.asksForFeatures {
                session.asksForFeatures = false
                emit(.event(.notice("The server did not accept the login with extensions; retrying as a plain client.")))
                await sendLogin(name)
            }
        case .reconnectDue(let number):
            guard number == connectionNumber else { return nil }
            emit(.connection(.reconnecting(attempt: status.failedAttempts + 1)))
            connect()
        }
        return nil
    }

    /// Whether ending the input can end the client now: nothing typed is still waiting.
    private var nothingLeftToSend: Bool {
        (queue.isEmpty && pendingName == nil) || needsName
    }

    /// No name is known: the next line typed is the name.
    private var needsName: Bool {
        session.username == nil && pendingName == nil && desiredName == nil
    }

    // MARK: - Typed lines

    private mutating func typed(_ line: String) async -> ChatEngine.Ending? {
        if let request = awaitedSecret {
            awaitedSecret = nil
            return await received(secret: line.trimmingTrailingNewline(), for: request)
        }
        // Before anything else: even at the name prompt, this is not a name.
        if line.trimmingCharacters(in: .whitespaces).lowercased() == "/reconnect" {
            reconnectNow()
            return nil
        }
        if needsName {
            let name = line.trimmingTrailingNewline().trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else {
                emit(.usernameNeeded(reason: nil))
                return nil
            }
            desiredName = name
            // Without a connection the name is used as soon as one is up.
            if writer != nil { await sendLogin(name) }
            return nil
        }
        if session.username != nil, writer != nil {
            return await perform(line)
        }
        switch InputParser.parse(line) {
        case .nothing:
            return nil
        case .command(.quit):
            return .quit
        case .command(.help), .invalid:
            return await perform(line)
        case .message, .command:
            enqueue(line)
            return nil
        }
    }

    /// A secret the client asked for: a login password (an empty line chooses another name
    /// instead) or the new password of /Register.
    private mutating func received(secret: String, for request: ChatSession.SecretRequest) async -> ChatEngine.Ending? {
        switch request {
        case .loginPassword(let name):
            guard !secret.isEmpty else {
                emit(.usernameNeeded(reason: nil))
                return nil
            }
            session.password = secret
            desiredName = name
            if writer != nil { await sendLogin(name) }
            return nil
        case .newPassword:
            guard !secret.isEmpty else {
                emit(.event(.notice("Not registered.")))
                return nil
            }
            return await perform("/Register " + secret)
        }
    }

    private mutating func perform(_ line: String) async -> ChatEngine.Ending? {
        for action in session.interpret(line, now: Int64(Date().timeIntervalSince1970)) {
            switch action {
            case .send(let frame):
                guard let writer else {
                    enqueue(line)
                    return nil
                }
                do {
                    try await writer.send(frame, compress: session.compresses)
                } catch {
                    // The connection just died; its loss is reported next. Keep the line.
                    queue.insert(line, at: 0)
                    return nil
                }
                showUnechoed(frame.messages ?? [])
            case .show(let event):
                emit(.event(event))
            case .quit:
                return .quit
            case .file(let command):
                let outcome: FileTransferAgent.Outcome
                switch command {
                case .send(let path, let destination): outcome = files.send(path: path, to: destination)
                case .get(let id, let path, let force): outcome = files.get(id: id, path: path, force: force)
                case .list: outcome = .init(frames: [FileTransferAgent.frame(FileTransfer.Key.list, .object(JSONObject()))])
                }
                await apply(outcome)
            case .askSecret(let request):
                awaitedSecret = request
                emit(.secretNeeded(prompt: "New password for \(session.username ?? "your name") (not shown; empty to cancel): "))
            }
        }
        return nil
    }

    /// Shows the user's own messages at once to a server that may not send them back.
    private mutating func showUnechoed(_ messages: [ChatMessage]) {
        guard !session.serverEchoesOwnMessages else { return }
        for message in messages {
            localEchoes.shown(message)
            seen.record(message)
            emit(.event(.message(message)))
        }
    }

    /// Sends a file transfer's frames (compressed where it pays) and shows its lines.
    private mutating func apply(_ outcome: FileTransferAgent.Outcome) async {
        for notice in outcome.notices { emit(.event(.notice(notice))) }
        guard let writer else { return }
        for frame in outcome.frames {
            // A failed write means the connection is gone; the transfer resumes on the next.
            try? await writer.send(frame, compress: session.compresses)
        }
    }

    /// File transfer frames from the server.
    private mutating func receiveFileFrames(_ frame: Frame) async {
        if let value = frame.extensionValue(FileTransfer.Key.upload), let status = FileTransfer.UploadStatus(value) {
            await apply(files.received(status))
        }
        if let value = frame.extensionValue(FileTransfer.Key.data), let entryValue = frame.extensionValue("FILE"),
           let entry = FileTransfer.Entry(entryValue), case .success(let chunk) = FileTransfer.Chunk.parse(value, key: FileTransfer.Key.data) {
            await apply(files.received(chunk, of: entry))
        }
        if let list = frame.extensionValue(FileTransfer.Key.list)?.arrayValue {
            for line in FileTransferAgent.describe(list.compactMap(FileTransfer.Entry.init)) { emit(.event(.notice(line))) }
        }
        if let error = frame.error, error.hasPrefix("File "), error.contains("not accepted") || error.contains("not stored") || error.contains("not sent") {
            await apply(files.uploadFailed())
        }
        if let error = frame.error { await apply(files.downloadRefused(error)) }
    }

    private mutating func enqueue(_ line: String) {
        guard queue.count < configuration.queueLimit else {
            emit(.connection(.queueFull(limit: configuration.queueLimit)))
            return
        }
        queue.append(line)
        emit(.connection(.queued(waiting: queue.count)))
    }

    /// Sends what was typed while offline, in order. Returns how many lines went out (a line
    /// whose write fails goes back into the queue for the next connection).
    private mutating func sendQueue() async -> Int {
        let lines = queue
        queue = []
        for line in lines {
            _ = await perform(line)
        }
        return lines.count - queue.count
    }

    // MARK: - Logging in

    private mutating func sendLogin(_ name: String) async {
        guard let writer else { return }
        pendingName = name
        loginAttempt += 1
        status.phase = .loggingIn
        if session.asksForFeatures { offeredFeaturesHere = true }
        // A failed write means the connection is gone; its loss is reported next.
        try? await writer.send(session.loginFrame(for: name))
    }

    /// Gives a server that answered the login with an ERROR a moment to accept it anyway.
    private mutating func scheduleLoginGrace() {
        let attempt = loginAttempt
        let sink = self.sink
        let delay = configuration.plainLoginDelay
        graceTimer?.cancel()
        graceTimer = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            sink.yield(.loginGraceExpired(attempt: attempt))
        }
    }

    // MARK: - Frames

    private mutating func receive(_ decoded: DecodedFrame) async -> ChatEngine.Ending? {
        let frame = decoded.frame
        let onlyMessages = frame.messages != nil && frame.usernameAccepted == nil && frame.info == nil
            && frame.userList == nil && frame.usersJoined == nil && frame.usersLeft == nil && frame.error == nil
        // History the server replays after a re-login may span several message-only frames;
        // anything else ends the replay.
        if replay != nil, !onlyMessages { replay = nil }
        var loggedIn = false
        for event in session.receive(decoded, attemptedName: pendingName) {
            switch event {
            case .welcome:
                if offeredFeaturesHere, !session.serverAnsweredFeatures { acceptedWithoutFeaturesAt = .now }
                pendingName = nil
                desiredName = session.username
                status.failedAttempts = 0
                status.phase = .online
                loggedIn = true
                if hasLoggedIn { replay = Replay(seen: seen) }
                emit(.event(event))
                if !session.serverRunsCommands, !hasLoggedIn {
                    emit(.event(.notice("This server does not run Chatterbox commands; /Block and the other commands work on this screen only. Type /Help.")))
                }
            case .history(let messages):
                var shown = messages
                if var current = replay {
                    shown = messages.filter { !current.seen.consumeIfSeen($0) }
                    current.missed += shown.count
                    replay = current
                }
                for message in shown { seen.record(message) }
                if replay == nil || !shown.isEmpty { emit(.event(.history(shown))) }
            case .message(let message):
                if message.source.lowercased() == session.username?.lowercased(), localEchoes.isEcho(message) {
                    // Shown when it was sent.
                    continue
                }
                if var current = replay {
                    let wasSeen = current.seen.consumeIfSeen(message)
                    if !wasSeen { current.missed += 1 }
                    replay = current
                    if wasSeen { continue }
                }
                seen.record(message)
                emit(.event(event))
            case .loginRefused where session.lastRefusalNeedsPassword && pendingName != nil:
                // A registered name: ask for its password rather than for another name.
                let name = pendingName!
                pendingName = nil
                desiredName = nil
                session.password = nil
                emit(.event(event))
                awaitedSecret = .loginPassword(name: name)
                emit(.secretNeeded(prompt: "Password for \(name) (not shown; empty to choose another name): "))
            case .loginRefused:
                pendingName = nil
                emit(.event(event))
                let previous = desiredName
                desiredName = nil
                if hasLoggedIn, let previous {
                    emit(.usernameNeeded(reason: "Could not log in again as \(previous): someone else has that name now. Choose another name."))
                } else {
                    emit(.usernameNeeded(reason: nil))
                }
            case .error where session.username == nil && pendingName != nil && session.asksForFeatures:
                scheduleLoginGrace()
                emit(.event(event))
            default:
                emit(.event(event))
            }
        }
        await receiveFileFrames(frame)
        if loggedIn {
            let relogin = hasLoggedIn
            hasLoggedIn = true
            if relogin, session.serverHasFiles { await apply(.init(frames: files.resume())) }
            let sent = await sendQueue()
            if relogin, let name = session.username {
                emit(.connection(.backOnline(username: name, missedMessages: replay?.missed ?? 0, sentLines: sent)))
            }
        }
        return nil
    }

    // MARK: - Connection

    private mutating func connect() {
        connectionNumber += 1
        status.phase = .connecting
        connectionTask = ConnectionRunner.start(number: connectionNumber, configuration: configuration, sink: sink)
    }

    /// /Reconnect: skips the rest of the wait before the next attempt.
    private mutating func reconnectNow() {
        guard case .waitingToReconnect = status.phase else {
            emit(.event(.notice(writer == nil ? "Already connecting." : "Already connected.")))
            return
        }
        reconnectTimer?.cancel()
        emit(.connection(.reconnecting(attempt: status.failedAttempts + 1)))
        connect()
    }

    /// Whether the connection that just closed looks like a server choking on FEATURES: it
    /// closed before answering a login that offered them, or soon after accepting it without
    /// answering them (the protocol's original server does that).
    private var extensionsLookFatal: Bool {
        guard offeredFeaturesHere, session.asksForFeatures else { return false }
        guard heardFromServer else { return true }
        guard let accepted = acceptedWithoutFeaturesAt else { return false }
        return ContinuousClock.now - accepted < configuration.extensionFailureWindow
    }

    private mutating func connectionLost(_ reason: String) -> ChatEngine.Ending? {
        if extensionsLookFatal {
            // Once, and for the rest of the run: the next logins are the base protocol's.
            session.asksForFeatures = false
            writer = nil
            if let name = session.username { desiredName = name }
            pendingName = nil
            replay = nil
            session.startNewConnection()
            emit(.event(.notice("The server closed the connection right after a login offering Chatterbox's extensions; connecting again as a plain client, without them.")))
            connect()
            return nil
        }
        writer = nil
        let wasLoggedIn = session.username != nil
        if let name = session.username { desiredName = name }
        pendingName = nil
        replay = nil
        session.startNewConnection()
        guard configuration.reconnect.isEnabled, !(inputEnded && queue.isEmpty) else {
            emit(.connection(.lost(reason: reason, retryIn: nil)))
            return .serverClosed(reason)
        }
        // A connection that closes before the login succeeds counts as a failed attempt, so a
        // server that keeps hanging up is not hammered.
        if !wasLoggedIn { status.failedAttempts += 1 }
        let delay = scheduleReconnect()
        emit(.connection(.lost(reason: reason, retryIn: delay)))
        return nil
    }

    /// Schedules the next connection attempt and returns the wait.
    private mutating func scheduleReconnect() -> Duration {
        let delay = configuration.reconnect.jitteredDelay(beforeAttempt: status.failedAttempts + 1, random: Double.random(in: 0...1))
        status.phase = .waitingToReconnect(retryAt: .now + delay)
        let number = connectionNumber
        let sink = self.sink
        reconnectTimer?.cancel()
        reconnectTimer = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            sink.yield(.reconnectDue(connection: number))
        }
        return delay
    }

    // MARK: - Output

    private func emit(_ update: ClientUpdate) {
        updates(update)
    }

    private mutating func publishStatus() {
        status.username = session.username ?? desiredName
        status.serverUser = session.serverUser
        status.online = session.online
        status.everyoneSeen = session.everyoneSeen
        status.serverRunsCommands = session.serverRunsCommands
        status.queuedLines = queue.count
        guard status != publishedStatus else { return }
        publishedStatus = status
        updates(.status(status))
    }
}
