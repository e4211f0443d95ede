import ChatProtocol
import Foundation

/// The single consumer of everything the engine reacts to: typed lines, frames, connection
/// news and timers. It owns the protocol session and the connection state.
///
/// Sending (pacing to the server's rate, sending again what the server dropped) is in
/// `EngineLoop+Sending.swift`; finishing the work started once the input ends, in
/// `EngineLoop+Finishing.swift`.
struct EngineLoop {
    let configuration: ChatEngine.Configuration
    let sink: AsyncStream<EngineInput>.Continuation
    let updates: @Sendable (ClientUpdate) -> Void

    var session = ChatSession()
    var status: ClientStatus
    var publishedStatus: ClientStatus?

    /// Number of the current connection; news from older ones is ignored.
    var connectionNumber = 0
    var connectionTask: Task<Void, Never>?
    var writer: FrameWriter?
    var reconnectTimer: Task<Void, Never>?
    var graceTimer: Task<Void, Never>?
    var hasConnected = false
    var hasLoggedIn = false
    /// The server address connected to now, or last: the next round of attempts starts after it.
    var lastCandidate: ServerCandidate?
    /// The addresses that failed in the current round of attempts (not tried again in it).
    var failedThisRound: Set<ServerCandidate> = []
    /// Whether the round that made the current connection has other addresses to try.
    var othersLeftInRound = false
    /// Whether the next round says which server it starts with (a reconnection does).
    var announceAttempt = false

    /// The name to log in with as soon as a connection is up.
    var desiredName: String?
    /// The name of the login awaiting the server's answer.
    var pendingName: String?
    var loginAttempt = 0
    /// Frames received since the last login was sent, and the bound on the wait for the first.
    var framesSinceLogin = 0
    var loginAnswerTimer: Task<Void, Never>?
    /// Lines typed while not logged in, oldest first.
    var queue: [String] = []
    var inputEnded = false
    /// Set when the next typed line is a secret the client asked for.
    var awaitedSecret: ChatSession.SecretRequest?
    /// Files being sent and fetched.
    var files: FileTransferAgent

    /// Messages waiting for the rate the server accepts, and those sent but not confirmed.
    var pacer = SendPacer()
    var paceTimer: Task<Void, Never>?
    var unconfirmed = UnconfirmedMessages()
    /// Messages the server said it dropped ("Slow down"), not yet matched to lines, and when.
    var droppedCount = 0
    var droppedNoticedAt: ContinuousClock.Instant?
    var dropTimer: Task<Void, Never>?
    /// The lines typed while disconnected that are being sent since the last re-login.
    var queuedBatch: QueuedBatch?
    /// Requests (commands, history, file lists) whose answers have not come yet.
    var pendingAnswers = 0
    /// When a frame last came or went: the end of input waits for a quiet moment, so that an
    /// answer in several frames is shown whole.
    var lastActivity = ContinuousClock.now
    var settleTimer: Task<Void, Never>?
    var lingerTimer: Task<Void, Never>?
    /// What failed during the run (for a scripted run's exit status).
    var linesNotSent = 0
    var serverErrors = 0

    /// Messages shown so far, to recognise the ones a server replays after a reconnection.
    var seen = SeenMessages()
    /// Own messages shown when sent, to a server that may not send them back.
    var localEchoes = LocalEchoes()
    /// Whether the server sent one of them back: it echoes, so a message not echoed was not
    /// delivered (see ``serverEchoes``).
    var observedEcho = false
    /// Whether the login on the current connection offered FEATURES, whether anything came
    /// back on it, and when a login that offered them was accepted without an answer to them.
    var offeredFeaturesHere = false
    /// The name this connection's server refused, if it did: should it then close the
    /// connection, the refusal was the server going away (a node shutting down), not the name.
    var refusedHere: String?
    var heardFromServer = false
    var acceptedWithoutFeaturesAt: ContinuousClock.Instant?
    /// When the pending login was sent, and how long the last accepted one took to be
    /// answered: a measure of how busy the server is (see ``echoPatience``).
    var loginSentAt: ContinuousClock.Instant?
    /// Since when logging in again has been refused because the name is still in use (by the
    /// connection that was lost, most likely), and the timer of the next try.
    var nameHeldSince: ContinuousClock.Instant?
    var loginRetryTimer: Task<Void, Never>?
    var loginRoundTrip: Duration?
    /// Set while the server replays history after a re-login.
    var replay: Replay?

    struct Replay {
        var seen: SeenMessages
        var missed = 0
    }

    struct QueuedBatch {
        var total: Int
        var notSent = 0
    }

    init(configuration: ChatEngine.Configuration, sink: AsyncStream<EngineInput>.Continuation, updates: @escaping @Sendable (ClientUpdate) -> Void) {
        self.configuration = configuration
        self.sink = sink
        self.updates = updates
        files = FileTransferAgent(downloadDirectory: configuration.downloadDirectory ?? DownloadDestination.defaultDirectory())
        session.extraHelpLines = ["  /Reconnect - reconnect now instead of waiting (when disconnected)"] + configuration.extraHelpLines
        session.password = configuration.password
        session.asksForFeatures = configuration.offersExtensions
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
        for timer in [reconnectTimer, graceTimer, paceTimer, dropTimer, settleTimer, lingerTimer, loginAnswerTimer] { timer?.cancel() }
        connectionTask?.cancel()
        // A connection that is up closes at once; one still connecting is left to time out on
        // its own rather than hold up quitting.
        if writer != nil { await connectionTask?.value }
        writer = nil
    }

    // MARK: - Dispatch

    mutating func handle(_ input: EngineInput) async throws -> ChatEngine.Ending? {
        switch input {
        case .line(let line):
            if let ending = await typed(line) { return ending }
        case .endOfInput:
            inputEnded = true
            startLingering()
        case .connected(let number, let writer, let candidate, let othersLeft):
            guard number == connectionNumber else { return nil }
            self.writer = writer
            lastCandidate = candidate
            othersLeftInRound = othersLeft
            let server = configuration.servers[candidate.server]
            status.host = server.host
            status.port = server.port
            hasConnected = true
            offeredFeaturesHere = false
            refusedHere = nil
            heardFromServer = false
            acceptedWithoutFeaturesAt = nil
            lastActivity = .now
            status.phase = .loggingIn
            let address = candidate.address.map(ChatConnection.describe) ?? server.description
            emit(.connection(.connected(server: server, address: address, security: status.security)))
            if let name = desiredName {
                await sendLogin(name)
            } else if !inputEnded {
                emit(.usernameNeeded(reason: nil))
            }
        case .frame(let number, let frame):
            guard number == connectionNumber else { return nil }
            heardFromServer = true
            framesSinceLogin += 1
            lastActivity = .now
            if let ending = await receive(frame) { return ending }
        case .closed(let number, let reason, let isFatal):
            guard number == connectionNumber else { return nil }
            if let ending = connectionLost(reason, isFatal: isFatal) { return ending }
        case .attemptStarted(let number, let server):
            guard number == connectionNumber, announceAttempt else { return nil }
            announceAttempt = false
            emit(.connection(.reconnecting(attempt: status.failedAttempts + 1, server: configuration.servers[server])))
        case .serverSkipped(let number, let candidate, let reason, let next):
            guard number == connectionNumber else { return nil }
            failedThisRound.insert(candidate)
            emit(.connection(.serverSkipped(
                server: configuration.servers[candidate.server], address: candidate.address.map(ChatConnection.describe),
                reason: reason, next: configuration.servers[next]
            )))
        case .connectFailed(let number, let reason, let summary, let isFatal):
            guard number == connectionNumber else { return nil }
            // The whole round failed: the next tries every address again.
            failedThisRound.removeAll()
            // The very first connection failing is a configuration problem: say so at once;
            // so is a failure no retry can mend (a certificate not trusted, TLS against plain).
            guard hasConnected, !isFatal else { throw ConnectionError(description: reason, isFatal: isFatal) }
            // Only the retry without extensions reconnects when reconnecting is off.
            guard configuration.reconnect.isEnabled else {
                emit(.connection(.lost(reason: reason, retryIn: nil)))
                return .serverClosed(reason)
            }
            status.failedAttempts += 1
            let delay = scheduleReconnect()
            // Each address was said as it was skipped: the round in short.
            emit(.connection(.attemptFailed(reason: summary ?? reason, retryIn: delay)))
        case .loginGraceExpired(let attempt):
            // A server that answered our FEATURES with an ERROR and nothing else: log in plainly.
            if attempt == loginAttempt, let name = pendingName, session.username == nil, session.asksForFeatures {
                session.asksForFeatures = false
                emit(.event(.notice("The server did not accept the login with extensions; retrying as a plain client.")))
                await sendLogin(name)
            }
        case .reconnectDue(let number):
            guard number == connectionNumber else { return nil }
            announceAttempt = true
            connect()
        case .wake(let wake):
            if let ending = await woke(wake) { return ending }
        }
        return finishIfDone()
    }

    /// No name is known: the next line typed is the name.
    var needsName: Bool {
        session.username == nil && pendingName == nil && desiredName == nil
    }

    // MARK: - Typed lines

    mutating func typed(_ line: String) async -> ChatEngine.Ending? {
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
    mutating func received(secret: String, for request: ChatSession.SecretRequest) async -> ChatEngine.Ending? {
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

    /// Carries out a typed line. `wasQueued`: it was typed while disconnected.
    mutating func perform(_ line: String, wasQueued: Bool = false) async -> ChatEngine.Ending? {
        for action in session.interpret(line, now: Int64(Date().timeIntervalSince1970)) {
            switch action {
            case .send(let frame):
                guard writer != nil else {
                    enqueue(line)
                    return nil
                }
                if frame.messages?.isEmpty == false {
                    // Messages go at the rate the server accepts.
                    pacer.append(SendPacer.Item(line: line, frame: frame, wasQueued: wasQueued))
                    await sendPaced()
                } else {
                    // A request (history, search): answered once.
                    pendingAnswers += 1
                    await sendRequest(frame)
                }
            case .show(let event):
                emit(.event(event))
            case .quit:
                return .quit
            case .file(let command):
                let outcome: FileTransferAgent.Outcome
                switch command {
                case .send(let path, let destination): outcome = files.send(path: path, to: destination)
                case .get(let id, let path, let force): outcome = files.get(id: id, path: path, force: force)
                case .list:
                    pendingAnswers += 1
                    outcome = .init(frames: [FileTransferAgent.frame(FileTransfer.Key.list, .object(JSONObject()))])
                }
                await apply(outcome)
            case .askSecret(let request):
                awaitedSecret = request
                emit(.secretNeeded(prompt: "New password for \(session.username ?? "your name") (an empty line cancels): "))
            }
        }
        return nil
    }

    /// Sends a frame that is not a message (a request), now.
    mutating func sendRequest(_ frame: Frame) async {
        guard let writer else { return }
        lastActivity = .now
        // A failed write means the connection is gone; its loss is reported next.
        try? await writer.send(frame, compress: session.compresses)
    }

    /// Sends a file transfer's frames (compressed where it pays) and shows its lines.
    mutating func apply(_ outcome: FileTransferAgent.Outcome) async {
        for event in outcome.events { emit(.event(event)) }
        for frame in outcome.frames {
            // A failed write means the connection is gone; the transfer resumes on the next.
            await sendRequest(frame)
        }
    }

    /// File transfer frames from the server.
    mutating func receiveFileFrames(_ frame: Frame) async {
        if let value = frame.extensionValue(FileTransfer.Key.upload), let status = FileTransfer.UploadStatus(value) {
            await apply(files.received(status))
        }
        if let value = frame.extensionValue(FileTransfer.Key.data), let entryValue = frame.extensionValue("FILE"),
           let entry = FileTransfer.Entry(entryValue), case .success(let chunk) = FileTransfer.Chunk.parse(value, key: FileTransfer.Key.data) {
            await apply(files.received(chunk, of: entry))
        }
        if let list = frame.extensionValue(FileTransfer.Key.list)?.arrayValue {
            answered()
            for line in FileTransferAgent.describe(list.compactMap(FileTransfer.Entry.init)) { emit(.event(.notice(line))) }
        }
        if let error = frame.error, error.hasPrefix("File "), error.contains("not accepted") || error.contains("not stored") || error.contains("not sent") {
            await apply(files.uploadFailed())
        }
        if let error = frame.error { await apply(files.downloadRefused(error)) }
    }

    /// One request had its answer.
    mutating func answered() {
        pendingAnswers = max(0, pendingAnswers - 1)
    }

    // MARK: - Logging in

    mutating func sendLogin(_ name: String) async {
        guard let writer else { return }
        pendingName = name
        loginSentAt = .now
        loginAttempt += 1
        status.phase = .loggingIn
        if session.asksForFeatures { offeredFeaturesHere = true }
        // A server that took the connection but never answers (hung) is given up in time.
        framesSinceLogin = 0
        loginAnswerTimer?.cancel()
        loginAnswerTimer = wakeUp(.loginUnanswered(connection: connectionNumber, attempt: loginAttempt), after: configuration.connectTimeout)
        // A failed write means the connection is gone; its loss is reported next.
        try? await writer.send(session.loginFrame(for: name))
    }

    /// Gives a server that answered the login with an ERROR a moment to accept it anyway.
    mutating func scheduleLoginGrace() {
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

    mutating func receive(_ decoded: DecodedFrame) async -> ChatEngine.Ending? {
        let frame = decoded.frame
        let onlyMessages = frame.messages != nil && frame.usernameAccepted == nil && frame.info == nil
            && frame.userList == nil && frame.usersJoined == nil && frame.usersLeft == nil && frame.error == nil
        // History the server replays after a re-login may span several message-only frames;
        // anything else ends the replay.
        if replay != nil, !onlyMessages { replay = nil }
        var loggedIn = false
        var answeredHere = false
        for event in session.receive(decoded, attemptedName: pendingName) {
            switch event {
            case .welcome:
                if offeredFeaturesHere, !session.serverAnsweredFeatures { acceptedWithoutFeaturesAt = .now }
                if let sentAt = loginSentAt { loginRoundTrip = .now - sentAt }
                nameHeldSince = nil
                loginSentAt = nil
                pendingName = nil
                desiredName = session.username
                status.failedAttempts = 0
                failedThisRound.removeAll()
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
                if let serverUser = session.serverUser, message.source == serverUser, !answeredHere {
                    answeredHere = true
                    answered()
                }
                if message.source.lowercased() == session.username?.lowercased() {
                    unconfirmed.confirm(message)
                    // Shown when it was sent.
                    if localEchoes.isEcho(message) {
                        observedEcho = true
                        continue
                    }
                }
                if var current = replay {
                    let wasSeen = current.seen.consumeIfSeen(message)
                    if !wasSeen { current.missed += 1 }
                    replay = current
                    if wasSeen { continue }
                }
                seen.record(message)
                emit(.event(event))
            case .earlierMessages, .searchResults:
                answered()
                emit(.event(event))
            case .commandResult(_, _, _, let isError):
                if isError { serverErrors += 1 }
                if !answeredHere {
                    answeredHere = true
                    answered()
                }
                emit(.event(event))
            case .loginRefused where session.lastRefusalNeedsPassword && pendingName != nil:
                // A registered name: ask for its password rather than for another name.
                let name = pendingName!
                pendingName = nil
                desiredName = nil
                session.password = nil
                emit(.event(event))
                awaitedSecret = .loginPassword(name: name)
                emit(.secretNeeded(prompt: "Password for \(name) (an empty line chooses another name): "))
            case .loginRefused(let reason) where shouldWaitForHeldName(reason):
                // Most likely our own connection that was just lost, still online on the server
                // it was on (a node that died holds its users until its lease runs out).
                let name = pendingName!
                pendingName = nil
                if nameHeldSince == nil {
                    nameHeldSince = .now
                    emit(.event(.notice("\(name) is still online from the connection that was lost; trying again for up to \(ConnectionEventText.seconds(configuration.heldNamePatience)) before asking for another name.")))
                }
                loginRetryTimer?.cancel()
                loginRetryTimer = wakeUp(.retryLogin(connection: connectionNumber), after: Self.heldNameRetryInterval)
            case .loginRefused:
                refusedHere = pendingName
                pendingName = nil
                nameHeldSince = nil
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
            case .error(let text) where session.username != nil:
                if let dropped = Self.droppedCount(in: text) {
                    serverDropped(dropped, error: text)
                } else {
                    serverErrors += 1
                    answered()
                    emit(.event(event))
                }
            default:
                emit(.event(event))
            }
        }
        let failuresBefore = files.failures
        await receiveFileFrames(frame)
        // An ERROR that ended a transfer counts once, as the transfer that failed.
        if frame.error != nil, files.failures > failuresBefore, serverErrors > 0 { serverErrors -= 1 }
        reportQueuedBatchIfSent()
        if loggedIn {
            let relogin = hasLoggedIn
            hasLoggedIn = true
            let rate = session.advertisedMessageRate ?? MessageRate(perSecond: SendPacer.defaultRate, burst: SendPacer.defaultBurst)
            pacer.reset(rate: rate.perSecond, burst: rate.burst)
            if relogin, session.serverHasFiles { await apply(.init(frames: files.resume())) }
            let sending = await sendQueue()
            if relogin, let name = session.username {
                if sending > 0 { queuedBatch = QueuedBatch(total: sending) }
                emit(.connection(.backOnline(username: name, missedMessages: replay?.missed ?? 0, sentLines: sending, server: status.server)))
                reportQueuedBatchIfSent()
            }
        }
        return nil
    }

    // MARK: - Connection

    mutating func connect() {
        connectionNumber += 1
        status.phase = .connecting
        let round = FailoverRound(serverCount: configuration.servers.count, after: lastCandidate)
        connectionTask = ConnectionRunner.start(number: connectionNumber, configuration: configuration, round: round, excluding: failedThisRound, sink: sink)
    }

    /// /Reconnect: skips the rest of the wait before the next attempt.
    mutating func reconnectNow() {
        guard case .waitingToReconnect = status.phase else {
            emit(.event(.notice(writer == nil ? "Already connecting." : "Already connected.")))
            return
        }
        reconnectTimer?.cancel()
        announceAttempt = true
        connect()
    }

    /// Whether the connection that just closed looks like a server choking on FEATURES: it
    /// closed before answering a login that offered them, or soon after accepting it without
    /// answering them (the protocol's original server does that).
    var extensionsLookFatal: Bool {
        guard offeredFeaturesHere, session.asksForFeatures else { return false }
        guard heardFromServer else { return true }
        guard let accepted = acceptedWithoutFeaturesAt else { return false }
        return ContinuousClock.now - accepted < configuration.extensionFailureWindow
    }

    /// Forgets the connection that closed; what was waiting to go out goes back in the queue.
    mutating func forgetConnection() {
        writer = nil
        if let name = session.username { desiredName = name }
        pendingName = nil
        replay = nil
        session.startNewConnection()
        paceTimer?.cancel()
        dropTimer?.cancel()
        // Lines the pacer held were never sent: first in the queue for the next connection.
        // Those sent but unconfirmed may or may not have arrived: not sent twice.
        queue = pacer.takeAll().map(\.line) + queue
        unconfirmed.removeAll()
        droppedCount = 0
        droppedNoticedAt = nil
        pendingAnswers = 0
    }

    /// `gaveUp`: the client gave up on a server that did not answer its login (`reason` says
    /// so), which is no sign of a server choking on FEATURES.
    mutating func connectionLost(_ reason: String, isFatal: Bool, gaveUp: Bool = false) -> ChatEngine.Ending? {
        if !isFatal, !gaveUp, extensionsLookFatal {
            // Once, and for the rest of the run: the next logins are the base protocol's.
            session.asksForFeatures = false
            forgetConnection()
            emit(.event(.notice("The server closed the connection right after a login offering Chatterbox's extensions; connecting again as a plain client, without them.")))
            connect()
            return nil
        }
        let wasLoggedIn = session.username != nil
        forgetConnection()
        guard configuration.reconnect.isEnabled, !isFatal, !(inputEnded && unfinishedWork.isEmpty) else {
            emit(.connection(.lost(reason: reason, retryIn: nil)))
            return .serverClosed(reason)
        }
        if !wasLoggedIn {
            // A server that hangs up (or does not answer) before the login is through is skipped like one that
            // cannot be reached: on to the next address of the round, at once.
            if othersLeftInRound, let candidate = lastCandidate {
                failedThisRound.insert(candidate)
                // Refused, then hung up on: the next server gets the same name, unless the
                // user has chosen another meanwhile.
                if let refused = refusedHere, desiredName == nil, awaitedSecret == nil {
                    desiredName = refused
                }
                let server = configuration.servers[candidate.server]
                emit(.connection(.serverSkipped(
                    server: server, address: candidate.address.map(ChatConnection.describe),
                    reason: gaveUp ? reason : Self.beforeLogin(reason), next: nil
                )))
                connect()
                return nil
            }
            // When it was the last, the round failed: it counts as a failed attempt, so a
            // server that keeps hanging up is not hammered.
            status.failedAttempts += 1
        }
        failedThisRound.removeAll()
        let delay = scheduleReconnect()
        emit(.connection(.lost(reason: reason, retryIn: delay)))
        return nil
    }

    /// The reason a connection closed before the login was through, said so.
    static func beforeLogin(_ reason: String) -> String {
        var text = reason
        while let last = text.last, ".!".contains(last) { text.removeLast() }
        return text + " before the login was through"
    }

    /// Schedules the next connection attempt and returns the wait.
    mutating func scheduleReconnect() -> Duration {
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

    /// A timer that wakes the loop with `wake` after `delay`.
    func wakeUp(_ wake: EngineInput.Wake, after delay: Duration) -> Task<Void, Never> {
        let sink = self.sink
        return Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            sink.yield(.wake(wake))
        }
    }

    /// How often a re-login is tried while the name is held by the connection that was lost.
    static let heldNameRetryInterval: Duration = .seconds(1)

    /// Whether a refusal of the login is to be waited out: logging in again (after a lost
    /// connection) under the name this client had, refused as in use, within the patience.
    func shouldWaitForHeldName(_ reason: String) -> Bool {
        guard hasLoggedIn, let name = pendingName, name == desiredName, !session.lastRefusalNeedsPassword else { return false }
        let text = reason.lowercased()
        guard text.contains("in use") || text.contains("taken") || text.contains("already") else { return false }
        return ContinuousClock.now - (nameHeldSince ?? .now) < configuration.heldNamePatience
    }

    mutating func woke(_ wake: EngineInput.Wake) async -> ChatEngine.Ending? {
        switch wake {
        case .retryLogin(let number):
            loginRetryTimer = nil
            guard number == connectionNumber, writer != nil, session.username == nil, pendingName == nil, let name = desiredName else { return nil }
            await sendLogin(name)
        case .pace(let number):
            guard number == connectionNumber else { return nil }
            paceTimer = nil
            await sendPaced()
        case .dropsSettled(let number):
            guard number == connectionNumber else { return nil }
            await resendDropped()
        case .settle:
            settleTimer = nil
        case .linger:
            return lingerExpired()
        case .loginUnanswered(let number, let attempt):
            guard number == connectionNumber, attempt == loginAttempt, framesSinceLogin == 0, writer != nil else { return nil }
            // News from the connection given up is ignored from now on.
            connectionTask?.cancel()
            connectionNumber += 1
            let reason = "The server did not answer the login within \(ConnectionEventText.seconds(configuration.connectTimeout))."
            return connectionLost(reason, isFatal: false, gaveUp: true)
        }
        return nil
    }

    /// Whether the server sends the user's messages back: known of Chatterbox's, seen of others.
    var serverEchoes: Bool { session.serverEchoesOwnMessages || observedEcho }

    // MARK: - Output

    func emit(_ update: ClientUpdate) {
        updates(update)
    }

    mutating func publishStatus() {
        status.username = session.username ?? desiredName
        status.serverUser = session.serverUser
        status.online = session.online
        status.everyoneSeen = session.everyoneSeen
        status.serverRunsCommands = session.serverRunsCommands
        status.queuedLines = queue.count + pacer.waiting.count
        guard status != publishedStatus else { return }
        publishedStatus = status
        updates(.status(status))
    }
}
