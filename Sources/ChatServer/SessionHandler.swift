import ChatCompression
import ChatProtocol
import ChatStore
import Logging
import NIOCore

/// One client connection's protocol logic, on its event loop: login, message validation,
/// commands, and writing what the hub delivers.
final class SessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Extensions this server can enable when a client asks for them in `FEATURES`.
    static let supportedFeatures = ["commands", "accounts", "history", "deflate", "files"]

    private struct User {
        var name: String
        var key: String
    }

    private enum State {
        case awaitingLogin
        /// The password of a registered name is being checked (off the loop).
        case verifying
        /// Accepted by the hub; the reply waits for the history to load.
        case loggingIn(User, features: [String]?)
        case live(User)
        case closed
    }

    private let hub: Hub
    private var state = State.awaitingLogin
    private var context: ChannelHandlerContext?
    /// Set right after creation by the channel initializer.
    var connection: ClientConnection!
    /// Frames the hub delivered while the login reply was not yet sent.
    private var heldBack: [ByteBuffer] = []
    private var heldBackBytes = 0
    /// Frames the client sent while its login was completing, handled once it is live.
    private var earlyFrames: [Frame] = []
    /// Frames delivered since the last flush, gathered for one write.
    private var pendingDeliveries: ByteBuffer?
    /// Whether `pendingDeliveries` is still a frame shared with other recipients.
    private var pendingDeliveriesShared = false
    private var closing = false
    private var logger: Logger
    /// Messages the user may send (rate limit).
    private var messageBudget: TokenBucket
    /// Invalid frames the connection may send before it is disconnected.
    private var errorBudget: TokenBucket
    private var loginDeadline: Scheduled<Void>?
    /// Where the next /History command continues (older than this sequence number).
    private var commandHistoryCursor: Int64?
    /// Feature `deflate`: frames both ways may be compressed, from the login acceptance on.
    private var compressing = false

    init(hub: Hub) {
        self.hub = hub
        self.logger = hub.logger
        let limits = hub.configuration.limits
        messageBudget = TokenBucket(rate: limits.messagesPerSecond, burst: limits.messageBurst)
        errorBudget = TokenBucket(rate: limits.errorsPerSecond, burst: limits.errorBurst)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        if context.channel.isActive { armLoginDeadline(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loginDeadline?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armLoginDeadline(context)
        context.fireChannelActive()
    }

    /// A connection that has not logged in within the timeout is closed (slowloris).
    private func armLoginDeadline(_ context: ChannelHandlerContext) {
        guard loginDeadline == nil else { return }
        let timeout = hub.configuration.limits.loginTimeout
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        loginDeadline = context.eventLoop.scheduleTask(in: timeout) {
            guard case .awaitingLogin = session.value.state else { return }
            session.value.disconnect(reason: "Login timed out: no {\"USERNAME\": ...} accepted within \(timeout.nanoseconds / 1_000_000_000) seconds.")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var payload = unwrapInboundIn(data)
        if compressing, FrameCompression.isCompressed(payload) {
            do {
                payload = try FrameCompression.inflate(payload, maximumLength: hub.configuration.maximumFrameLength)
            } catch FrameCompression.InflateError.tooLarge(let maximum) {
                disconnect(reason: "Compressed frame inflates beyond the maximum of \(maximum) bytes. Closing the connection.")
                return
            } catch {
                sendError("Frame not read: \(error).")
                return
            }
        }
        let decoded: DecodedFrame
        do {
            decoded = try FrameCoding.decode(payload, strictness: .strict)
        } catch {
            sendError("\(error)")
            return
        }
        if !decoded.problems.isEmpty {
            let listed = decoded.problems.prefix(20).joined(separator: "; ")
            let more = decoded.problems.count > 20 ? "; and \(decoded.problems.count - 20) more" : ""
            sendError("Invalid frame: \(listed)\(more)")
        }
        handle(decoded.frame, hadProblems: !decoded.problems.isEmpty)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .loggingIn(let user, _), .live(let user):
            hub.leave(connection, key: user.key)
            logger.info("\(user.name) left")
        case .awaitingLogin, .verifying, .closed:
            break
        }
        state = .closed
        heldBack = []
        earlyFrames = []
        connection.session.value = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard !context.channel.isWritable else { return }
        // The peer is not reading: more than the limit is queued for it.
        disconnect(
            reason: "Disconnected: you are not reading messages fast enough (more than \(hub.configuration.outboundQueueLimit) bytes waiting).",
            waitForDelivery: false
        )
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tooLarge = error as? FrameTooLargeError {
            disconnect(reason: "\(tooLarge). Closing the connection.")
        } else {
            logger.debug("Connection error: \(error)")
            context.close(promise: nil)
        }
    }

    // MARK: - Frames from the client

    private func handle(_ frame: Frame, hadProblems: Bool) {
        if isCompletingLogin {
            guard earlyFrames.count < hub.configuration.maximumFramesDuringLogin else {
                sendError("Too many frames sent before the login completed; this one was dropped.")
                return
            }
            earlyFrames.append(frame)
            return
        }
        guard case .closed = state else {
            process(frame, hadProblems: hadProblems)
            return
        }
    }

    /// Whether a login is under way (password check or history), so frames wait for it.
    private var isCompletingLogin: Bool {
        switch state {
        case .verifying, .loggingIn: true
        case .awaitingLogin, .live, .closed: false
        }
    }

    private func process(_ frame: Frame, hadProblems: Bool) {
        var problems: [String] = []
        for key in [Frame.Key.usernameAccepted, Frame.Key.userList, Frame.Key.usersJoined, Frame.Key.usersLeft]
        where Self.isPresent(key, in: frame) {
            problems.append("\(key) is sent by servers, not by clients")
        }
        let requests = Set([Frame.Key.history, Frame.Key.search]).union(FileTransfer.Key.all)
        for member in frame.extensions
        where member.key != Frame.Key.features && member.key != Frame.Key.password && !requests.contains(member.key) {
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
                earlyFrames.append(Frame(messages: messages))
            case .live(let user):
                var dropped = 0
                for message in messages {
                    guard messageBudget.take() else {
                        dropped += 1
                        continue
                    }
                    handle(message, from: user)
                }
                if dropped > 0 {
                    let limits = hub.configuration.limits
                    sendError(
                        "Slow down: \(dropped) message\(dropped == 1 ? " was" : "s were") not sent (at most \(Self.format(limits.messagesPerSecond)) per second, bursts of \(limits.messageBurst)).",
                        counted: false
                    )
                }
            case .closed:
                break
            }
        }

        for member in frame.extensions where requests.contains(member.key) {
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

    // MARK: - Login

    /// A login under `name`: a registered name first has its password checked, off the loop
    /// and within the attempt limits; then the hub admits it.
    private func login(name: String, password: String?, features: [String]?) {
        let key = UsernameRules.key(name)
        let asksForAccounts = features?.contains("accounts") == true
        guard let encoded = hub.accountHash(forKey: key) else {
            admit(name: name, features: features, authenticatedHash: nil)
            return
        }
        guard let password else {
            refuse(Hub.registeredNameText(name), name: name, passwordRequired: asksForAccounts)
            return
        }
        guard let stored = PasswordHash(encoded: encoded) else {
            logger.error("The stored password hash of \(name) is damaged")
            refuse("The password of \(name) cannot be checked (a problem on the server). Please choose another name.", name: name)
            return
        }
        if let wait = hub.loginAttempts.attempt(nameKey: key, address: connection.address) {
            refuse("Too many login attempts for \(name): try again in \(describeDuration(wait)).", name: name)
            return
        }
        state = .verifying
        context?.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let verified = hub.offload(on: connection.eventLoop) { stored.matches(password) }
        verified.assumeIsolated().whenComplete { result in
            guard case .verifying = self.state else { return }
            self.state = .awaitingLogin
            self.context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            if case .success(true) = result {
                self.admit(name: name, features: features, authenticatedHash: encoded)
            } else {
                self.refuse("Wrong password for \(name).", name: name, passwordRequired: asksForAccounts)
            }
            // Frames that came during the check, if the login did not go ahead.
            while case .awaitingLogin = self.state, !self.earlyFrames.isEmpty {
                self.process(self.earlyFrames.removeFirst(), hadProblems: false)
            }
        }
    }

    /// USERNAME_ACCEPTED false with `reason`; PASSWORD_REQUIRED too when the name needs a
    /// password and the client negotiated accounts.
    private func refuse(_ reason: String, name: String, passwordRequired: Bool = false) {
        logger.debug("Login as \(name) refused: \(reason)")
        var frame = Frame(usernameAccepted: false, info: reason)
        if passwordRequired {
            frame.extensions.append(.init(key: Frame.Key.passwordRequired, value: .bool(true)))
        }
        write(frame)
        context?.flush()
    }

    private func admit(name: String, features: [String]?, authenticatedHash: String?) {
        switch hub.login(name: name, connection: connection, authenticatedHash: authenticatedHash) {
        case .rejected(let reason):
            refuse(reason, name: name)
        case .needsPassword(let reason):
            refuse(reason, name: name, passwordRequired: features?.contains("accounts") == true)
        case .accepted(let ticket):
            loginDeadline?.cancel()
            let user = User(name: ticket.name, key: ticket.key)
            state = .loggingIn(user, features: features)
            logger.info("\(user.name) joined")
            context?.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            let future = hub.loadHistory(ticket.history, on: connection.eventLoop)
            future.assumeIsolated().whenComplete { result in
                self.completeLogin(ticket, result: result)
            }
        }
    }

    private func completeLogin(_ ticket: Hub.LoginTicket, result: Result<History, any Error>) {
        guard case .loggingIn(let user, let features) = state else { return }
        var info = "Welcome to Chatterbox, \(user.name)! \(ticket.userList.count) online."
        let history: History
        switch result {
        case .success(let loaded):
            history = loaded
            if loaded.truncated {
                info += " Showing the most recent \(hub.configuration.historyLimit) messages of the history."
            }
            if loaded.pendingCount > 0 {
                info += " \(loaded.pendingCount) direct message\(loaded.pendingCount == 1 ? "" : "s") arrived while you were away."
            }
        case .failure(let error):
            logger.error("History for \(user.name) could not be loaded: \(error)")
            history = History(messages: [], truncated: false, pendingCount: 0)
            info += " The history could not be loaded."
        }
        var reply = Frame(usernameAccepted: true, info: info, userList: ticket.userList, messages: [])
        // Paging back starts below the replayed window (or below everything delivered).
        let cursor = history.pageCursor ?? (ticket.history.throughSequence + 1)
        commandHistoryCursor = cursor
        if let features {
            let enabled = Self.supportedFeatures.filter(features.contains)
            reply.features = enabled
            reply.extensions.append(.init(key: "SERVER_USER", value: .string(hub.configuration.serverName)))
            if enabled.contains("history") {
                let info = HistoryPageInfo(before: cursor, more: history.truncated || (history.pageCursor == nil && cursor > 1))
                reply.extensions.append(.init(key: Frame.Key.history, value: info.jsonValue))
            }
        }
        for (index, frame) in Self.split(reply, history: history.messages.map(\.message), limit: hub.configuration.maximumFrameLength).enumerated() {
            write(frame)
            // The acceptance itself goes uncompressed: the client learns from it that it may
            // receive compressed frames.
            if index == 0, reply.features?.contains("deflate") == true { compressing = true }
        }
        state = .live(user)
        for frame in heldBack { context?.write(wrapOutboundOut(outbound(frame)), promise: nil) }
        heldBack = []
        heldBackBytes = 0
        context?.flush()
        context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        let early = earlyFrames
        earlyFrames = []
        for frame in early {
            guard case .live = state else { break }
            process(frame, hadProblems: false)
        }
    }

    /// The login reply carrying `history`, split so that no frame's JSON exceeds `limit`:
    /// the first frame is the reply itself, the rest are plain MESSAGES frames.
    static func split(_ reply: Frame, history: [ChatMessage], limit: Int) -> [Frame] {
        var base = ByteBuffer()
        FrameCoding.writePayload(reply, into: &base)
        var frames: [Frame] = []
        var current = reply
        var size = base.readableBytes
        for message in history {
            let added = FrameCoding.encodedSize(of: message) + 1
            if size + added > limit, !(current.messages ?? []).isEmpty {
                frames.append(current)
                current = Frame(messages: [])
                size = #"{"MESSAGES":[]}"#.utf8.count
            }
            current.messages!.append(message)
            size += added
        }
        frames.append(current)
        return frames
    }

    // MARK: - Messages

    private func handle(_ message: ChatMessage, from user: User) {
        guard UsernameRules.key(message.source) == user.key else {
            sendError("Message not sent: SRC \"\(message.source)\" is not your username (\(user.name)).")
            return
        }
        let limit = hub.configuration.maximumContentBytes
        guard message.content.utf8.count <= limit else {
            sendError("Message not sent: CONTENT is longer than \(limit) bytes.")
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

    private func run(_ command: ChatCommand, for user: User) {
        switch hub.perform(command, for: user.key, on: connection) {
        case .lines(let lines):
            reply(lines, to: user)
        case .error(let text):
            sendError(text, counted: false)
        case .quit(let text):
            close(after: Frame(messages: [pseudoMessage(text, to: user)]))
        case .register(let password):
            register(password, for: user)
        case .page(let query):
            sendPage(query, for: user, asCommand: true)
        }
    }

    /// A file request (feature `files`): answered directly, in the order the requests came.
    private func handleFileRequest(_ key: String, _ value: JSONValue, for user: User) {
        guard let shelf = hub.fileShelf else {
            sendError("This server does not keep files.", counted: false)
            return
        }
        let requests = FileRequests(hub: hub, shelf: shelf, connection: connection, userName: user.name, userKey: user.key)
        requests.handle(key, value).assumeIsolated().whenSuccess { answer in
            guard case .live = self.state else { return }
            switch answer {
            case .frame(let frame):
                self.write(frame)
                self.context?.flush()
            case .error(let text):
                self.sendError(text, counted: false)
            }
        }
    }

    /// Loads a page of older history or search results off the loop and sends it after
    /// everything delivered before the request. /History continues where the last one ended.
    private func sendPage(_ request: HistoryQuery, for user: User, asCommand: Bool) {
        var query = request
        let continuesCommand = asCommand && query.query == nil
        if continuesCommand { query.before = commandHistoryCursor }
        let budget = hub.configuration.maximumFrameLength - 1024
        hub.loadPage(for: user.key, query: query, on: connection.eventLoop).assumeIsolated().whenComplete { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let page):
                let reply = HistoryReply(page, budget: budget)
                if continuesCommand, let cursor = reply.cursor { self.commandHistoryCursor = cursor }
                let frames = asCommand
                    ? reply.commandFrames(for: query) { self.pseudoMessage($0, to: user) }
                    : reply.structuredFrame(for: query)
                self.hub.deliverInOrder(frames, to: self.connection)
            case .failure(let error):
                self.logger.error("A page of history for \(user.name) could not be loaded: \(error)")
                self.sendError("The history could not be loaded; please try again.", counted: false)
            }
        }
    }

    /// /Register: hashes the password off the loop (within the attempt limits, as hashing is
    /// what they protect), then records it.
    private func register(_ password: String, for user: User) {
        if let wait = hub.loginAttempts.attempt(nameKey: user.key, address: connection.address) {
            sendError("Not registered: too many password attempts; try again in \(describeDuration(wait)).", counted: false)
            return
        }
        let rounds = hub.configuration.passwordHashRounds
        let hashed = hub.offload(on: connection.eventLoop) { try PasswordHash(hashing: password, rounds: rounds).encoded }
        hashed.assumeIsolated().whenComplete { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let encoded):
                self.reply(self.hub.setAccount(key: user.key, passwordHash: encoded, connection: self.connection), to: user)
            case .failure(let error):
                self.logger.error("Hashing a password failed: \(error)")
                self.sendError("Not registered: the password could not be hashed.", counted: false)
            }
        }
    }

    /// Sends `lines` privately as messages from the server's pseudo-user, after the messages
    /// this user sent before the command.
    private func reply(_ lines: [String], to user: User) {
        hub.deliverInOrder(FrameCoding.encode(Frame(messages: lines.map { pseudoMessage($0, to: user) })), to: connection)
    }

    private func pseudoMessage(_ text: String, to user: User) -> ChatMessage {
        ChatMessage(source: hub.configuration.serverName, destination: user.name, timestamp: Hub.now(), content: text)
    }

    // MARK: - Output

    /// Writes a frame the hub delivered; true when this session now needs a flush.
    ///
    /// Frames delivered in one outbox drain are gathered into one buffer, written once: one TLS
    /// record and one syscall for all of them instead of one each. A single frame is passed on
    /// as is, still shared with every other recipient.
    func deliver(_ delivered: ByteBuffer) -> Bool {
        let frame = compressing ? connection.outbox.compressionCache.compress(delivered) : delivered
        switch state {
        case .live:
            guard var gathered = pendingDeliveries else {
                pendingDeliveries = frame
                pendingDeliveriesShared = true
                return true
            }
            pendingDeliveries = nil  // keeps `gathered` uniquely referenced, so appends do not copy it again
            if pendingDeliveriesShared {
                // Second frame: move off the shared broadcast buffer into one of our own.
                var own = context?.channel.allocator.buffer(capacity: 4 * (gathered.readableBytes + frame.readableBytes)) ?? ByteBuffer()
                own.writeImmutableBuffer(gathered)
                gathered = own
                pendingDeliveriesShared = false
            }
            gathered.writeImmutableBuffer(frame)
            pendingDeliveries = gathered
            return false
        case .loggingIn:
            heldBack.append(frame)
            heldBackBytes += frame.readableBytes
            if heldBackBytes > hub.configuration.outboundQueueLimit {
                disconnect(reason: "Disconnected: too many messages queued while logging in.", waitForDelivery: false)
            }
            return false
        case .awaitingLogin, .verifying, .closed:
            return false
        }
    }

    func flushDeliveries() {
        guard let gathered = pendingDeliveries else { return }
        pendingDeliveries = nil
        context?.writeAndFlush(wrapOutboundOut(gathered), promise: nil)
    }

    /// Tells the client the server is stopping, then closes; completes once closed.
    func closeForShutdown() -> EventLoopFuture<Void> {
        guard let context else { return connection.eventLoop.makeSucceededVoidFuture() }
        close(after: Frame(info: "The server is shutting down. Goodbye!"))
        return context.channel.closeFuture
    }

    private func write(_ frame: Frame) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        FrameCoding.write(frame, into: &buffer)
        context.write(wrapOutboundOut(outbound(buffer)), promise: nil)
    }

    /// Encoded frames as they go out: compressed where it pays when the client asked for it.
    private func outbound(_ frames: ByteBuffer) -> ByteBuffer {
        compressing ? FrameCompression.compressFrames(frames, using: connection.outbox.compressionCache.loopDeflater) : frames
    }

    /// Sends ERROR `text`. Errors caused by malformed input (`counted`) draw on the error
    /// budget; a connection that exhausts it is disconnected.
    private func sendError(_ text: String, counted: Bool = true) {
        if counted, !errorBudget.take() {
            disconnect(reason: "Disconnected: too many invalid frames.")
            return
        }
        write(Frame(error: text))
        context?.flush()
    }

    /// Sends ERROR `reason` as the last frame and closes.
    private func disconnect(reason: String, waitForDelivery: Bool = true) {
        logger.notice("\(reason)")
        close(after: Frame(error: reason), waitForDelivery: waitForDelivery)
    }

    /// Writes `last` and closes. A peer that has stopped reading is not waited for;
    /// otherwise the frame gets two seconds to leave.
    private func close(after last: Frame, waitForDelivery: Bool = true) {
        guard let context, !closing else { return }
        closing = true
        var buffer = context.channel.allocator.buffer(capacity: 128)
        FrameCoding.write(last, into: &buffer)
        guard waitForDelivery else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        let deadline = context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    private static func format(_ rate: Double) -> String {
        rate == rate.rounded() ? String(Int(rate)) : String(rate)
    }

    private static func isPresent(_ key: String, in frame: Frame) -> Bool {
        switch key {
        case Frame.Key.usernameAccepted: frame.usernameAccepted != nil
        case Frame.Key.userList: frame.userList != nil
        case Frame.Key.usersJoined: frame.usersJoined != nil
        case Frame.Key.usersLeft: frame.usersLeft != nil
        default: false
        }
    }
}
