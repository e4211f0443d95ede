import ChatCompression
import ChatProtocol
import ChatStore
import ChatTLS
import Logging
import NIOCore
import NIOTLS
import Synchronization

/// A duplex handler that acts on reads only and passes every write and flush on as it is, so
/// it may sit between the TLS handler and a session that hands its deliveries to the TLS
/// handler directly (ChatServer.setUpConnection checks this in debug builds).
protocol PassesWritesThrough: ChannelHandler {}

/// One client connection's protocol logic, on its event loop: login, message validation,
/// commands, and writing what the hub delivers.
final class SessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Extensions this server can enable when a client asks for them in `FEATURES`.
    static let supportedFeatures = ["commands", "accounts", "history", "deflate", "files", "operators"]

    struct User {
        var name: String
        var key: String
        /// Logged in with the password of a registered name (what an operator must do).
        var authenticated = false
    }

    enum State {
        case awaitingLogin
        /// The password of a registered name is being checked (off the loop).
        case verifying
        /// Accepted by the hub; the reply waits for the history to load.
        case loggingIn(User, features: [String]?)
        case live(User)
        case closed
    }

    let hub: Hub
    var state = State.awaitingLogin
    var context: ChannelHandlerContext?
    /// The hub's handle on this connection, made with the session (which owns it; it refers
    /// back weakly).
    let connection: ClientConnection
    /// Frames the hub delivered while the login reply was not yet sent.
    var heldBack: [ByteBuffer] = []
    var heldBackBytes = 0
    /// Frames the client sent while its login was completing, handled once it is live.
    var earlyFrames: [Frame] = []
    /// Frames delivered since the last flush, gathered for one write.
    var pendingDeliveries = DeliveryGathering()
    var closing = false
    var logger: Logger
    /// Messages the user may send (rate limit).
    var messageBudget: TokenBucket
    /// The ``Hub/liveGeneration`` `messageBudget` was made at: a newer one brings a new rate.
    var messageBudgetGeneration = 0
    /// Invalid frames the connection may send before it is disconnected.
    var errorBudget: TokenBucket
    /// What the user's searches, history pages and file listings may cost the server.
    var requestBudget: RequestBudget
    var loginDeadline: Scheduled<Void>?
    /// Where the next /History command continues (older than this sequence number).
    var commandHistoryCursor: Int64?
    /// Feature `deflate`: frames both ways may be compressed, from the login acceptance on.
    var compressing = false
    /// The read pacing below, if any, charged what compressed frames inflate to.
    let readLimiter: ReadRateLimiter?

    /// The TLS handler right below, when nothing between handles writes: deliveries are handed
    /// to it directly instead of through the pipeline.
    private let tlsBelow: TLSServerHandler?
    /// A connection adopted from another listener (the browser gateway's WebSocket): its
    /// transport was secured before the session began, so the login clock starts at once, and
    /// its framing carries JSON text only, so `deflate` is not offered.
    let isAdopted: Bool

    /// A session for a connection on `eventLoop` from `address` (the peer's IP address, no
    /// port); made on that loop, by the channel initializer.
    init(hub: Hub, eventLoop: any EventLoop, address: String, tlsBelow: TLSServerHandler?, readLimiter: ReadRateLimiter?, adopted: Bool = false) {
        self.hub = hub
        self.connection = ClientConnection(outbox: hub.outbox(for: eventLoop), address: address)
        self.tlsBelow = tlsBelow
        self.readLimiter = readLimiter
        self.isAdopted = adopted
        self.logger = hub.logger
        let limits = hub.configuration.limits
        messageBudgetGeneration = hub.liveGeneration.load(ordering: .relaxed)
        let live = hub.liveSettings
        messageBudget = TokenBucket(rate: live.messagesPerSecond, burst: live.messageBurst)
        errorBudget = TokenBucket(rate: limits.errorsPerSecond, burst: limits.errorBurst)
        requestBudget = RequestBudget(maximumInFlight: limits.requestsInFlight, perSecond: limits.requestTimePerSecond, burst: limits.requestTimeBurst)
        connection.attach(self)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        if context.channel.isActive, !securedByTLS { armLoginDeadline(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        loginDeadline?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if !securedByTLS { armLoginDeadline(context) }
        context.fireChannelActive()
    }

    /// Over TLS the login clock starts when the handshake is done (the handshake has a deadline
    /// of its own), so a slow handshake on a busy machine does not eat the time to log in, and
    /// the timeout's ERROR can always be sent.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { armLoginDeadline(context) }
        if let cut = event as? OutboundBacklog.Cut {
            hub.metrics.limit(.slowReaderCut)
            // The peer is not reading: more is queued for it than the outbound budget allows.
            disconnect(
                reason: "Disconnected: you are not reading messages fast enough (more than \(cut.cap) bytes waiting).",
                waitForDelivery: false)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Whether the login clock waits for the TLS handshake below this session.
    private var securedByTLS: Bool { hub.configuration.tls != nil && !isAdopted }

    /// A connection that has not logged in within the timeout is closed (slowloris).
    func armLoginDeadline(_ context: ChannelHandlerContext) {
        guard loginDeadline == nil else { return }
        let timeout = hub.configuration.limits.loginTimeout
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        loginDeadline = context.eventLoop.scheduleTask(in: timeout) {
            guard case .awaitingLogin = session.value.state else { return }
            session.value.hub.metrics.limit(.loginTimeoutCut)
            session.value.disconnect(reason: "Login timed out: no {\"USERNAME\": ...} accepted within \(timeout.nanoseconds / 1_000_000_000) seconds.")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var payload = unwrapInboundIn(data)
        hub.metrics.bytesIn.increment(by: payload.readableBytes)
        if compressing, FrameCompression.isCompressed(payload) {
            do {
                let compressedSize = payload.readableBytes
                payload = try FrameCompression.inflate(payload, maximumLength: hub.configuration.maximumFrameLength)
                readLimiter?.chargeInflated(payload.readableBytes - compressedSize)
            } catch FrameCompression.InflateError.tooLarge(let maximum) {
                hub.metrics.limit(.frameCut)
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
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tooLarge = error as? FrameTooLargeError {
            hub.metrics.limit(.frameCut)
            disconnect(reason: "\(tooLarge). Closing the connection.")
        } else if let timedOut = error as? FrameTimeoutError {
            hub.metrics.limit(.frameCut)
            disconnect(reason: "\(timedOut).")
        } else if let framing = error as? ConnectionFramingError {
            hub.metrics.limit(.frameCut)
            disconnect(reason: framing.reason)
        } else {
            logger.debug("Connection error: \(error)")
            context.close(promise: nil)
        }
    }

    // MARK: - Frames from the client

    func handle(_ frame: Frame, hadProblems: Bool) {
        if isCompletingLogin {
            guard earlyFrames.count < hub.configuration.maximumFramesDuringLogin else {
                hub.metrics.limit(.loginFramesDropped)
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
                earlyFrames.append(Frame(messages: messages))
            case .live(let user):
                refreshMessageBudgetIfChanged()
                var dropped = 0
                for message in messages {
                    guard messageBudget.take() else {
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

    // MARK: - Messages

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

    /// Takes the message rate set since the budget was made (SIGHUP), starting full.
    func refreshMessageBudgetIfChanged() {
        let generation = hub.liveGeneration.load(ordering: .relaxed)
        guard generation != messageBudgetGeneration else { return }
        messageBudgetGeneration = generation
        let live = hub.liveSettings
        guard live.messagesPerSecond != messageBudget.rate || Double(max(1, live.messageBurst)) != messageBudget.burst else { return }
        messageBudget = TokenBucket(rate: live.messagesPerSecond, burst: live.messageBurst)
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

    // MARK: - Output

    /// Writes a frame the hub delivered; true when this session now needs a flush
    /// (``writeDeliveries()`` and ``flushDeliveries()`` at the end of the drain, see ``DeliveryGathering``).
    func deliver(_ delivered: ByteBuffer) -> Bool {
        let frame = compressing ? connection.outbox.compressionCache.compress(delivered) : delivered
        switch state {
        case .live:
            // Plain malloc: the buffer lives for one drain (the channel's allocator would map
            // large ones with mmap, per drain and recipient at high rates).
            return pendingDeliveries.add(frame, allocator: ByteBufferAllocator())
        case .loggingIn:
            heldBack.append(frame)
            heldBackBytes += frame.readableBytes
            if heldBackBytes > hub.outboundBudget.currentCap {
                hub.metrics.limit(.slowReaderCut)
                disconnect(reason: "Disconnected: too many messages queued while logging in.", waitForDelivery: false)
            }
            return false
        case .awaitingLogin, .verifying, .closed:
            return false
        }
    }

    /// Encrypts and queues what the drain gathered; the bytes queued (0: nothing to flush).
    func writeDeliveries() -> Int {
        var bytes = 0
        while let gathered = pendingDeliveries.take() {
            guard let context else { continue }
            if let tlsBelow {
                tlsBelow.writeFromAbove(gathered)
            } else {
                context.write(wrapOutboundOut(gathered), promise: nil)
            }
            bytes += gathered.readableBytes
        }
        return bytes
    }

    func flushDeliveries() {
        if let tlsBelow {
            tlsBelow.flushFromAbove()
        } else {
            context?.flush()
        }
    }

    /// Tells the client the server is stopping, then closes; completes once closed.
    func closeForShutdown() -> EventLoopFuture<Void> {
        guard let context else { return connection.eventLoop.makeSucceededVoidFuture() }
        // Answers already committed and queued for this loop go out before the goodbye.
        connection.outbox.drainNow()
        close(after: Frame(info: "The server is shutting down. Goodbye!"))
        return context.channel.closeFuture
    }

    func write(_ frame: Frame) {
        // Once closing, nothing more is queued (a connection cut for its queue stops growing it).
        guard let context, !closing else { return }
        var buffer = context.channel.allocator.buffer(capacity: FrameCoding.capacityEstimate(for: frame))
        FrameCoding.write(frame, into: &buffer)
        hub.metrics.bytesOut.increment(by: buffer.readableBytes)
        context.write(wrapOutboundOut(outbound(buffer)), promise: nil)
    }

    /// Encoded frames as they go out: compressed where it pays when the client asked for it.
    func outbound(_ frames: ByteBuffer) -> ByteBuffer {
        compressing ? FrameCompression.compressFrames(frames, using: connection.outbox.compressionCache.loopDeflater) : frames
    }

    /// Sends ERROR `text`. Errors caused by malformed input (`counted`) draw on the error
    /// budget; a connection that exhausts it is disconnected.
    func sendError(_ text: String, counted: Bool = true) {
        if counted, !errorBudget.take() {
            hub.metrics.limit(.invalidFramesCut)
            disconnect(reason: "Disconnected: too many invalid frames.")
            return
        }
        (counted ? hub.metrics.errorsInvalidInput : hub.metrics.errorsRefusal).increment()
        write(Frame(error: text))
        context?.flush()
    }

    /// Sends ERROR `reason` as the last frame and closes.
    func disconnect(reason: String, waitForDelivery: Bool = true) {
        logger.notice("\(reason)")
        close(after: Frame(error: reason), waitForDelivery: waitForDelivery)
    }

    /// Writes `last` and closes. A peer that has stopped reading is not waited for;
    /// otherwise the frame gets two seconds to leave.
    func close(after last: Frame, waitForDelivery: Bool = true) {
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
