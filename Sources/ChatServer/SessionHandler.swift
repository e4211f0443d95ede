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
///
/// This file has the channel's events. The parts, each with its own state: logging in
/// (SessionHandler+Login.swift, ``SessionLogin``), frames and messages from the client and
/// their limits (SessionHandler+Frames.swift, ``SessionBudgets``), requests answered off the
/// loop (SessionHandler+Requests.swift, SessionHandler+Admin.swift), and what goes out:
/// deliveries, replies, errors, closing (SessionHandler+Output.swift, ``SessionOutput``).
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
    var logger: Logger
    /// The login's own state (SessionHandler+Login.swift): frames that wait for it, its clock.
    var login = SessionLogin()
    /// What the user may cost: message rate, invalid frames, expensive requests.
    var budgets: SessionBudgets
    /// Where the next /History command continues (older than this sequence number).
    var commandHistoryCursor: Int64?
    /// What goes out (SessionHandler+Output.swift): the drain's gathered deliveries, compression.
    var output = SessionOutput()
    /// The read pacing below, if any, charged what compressed frames inflate to.
    let readLimiter: ReadRateLimiter?

    /// The TLS handler right below, when nothing between handles writes: deliveries are handed
    /// to it directly instead of through the pipeline.
    let tlsBelow: TLSServerHandler?
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
        self.budgets = SessionBudgets(hub: hub)
        connection.attach(self)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        if context.channel.isActive, !securedByTLS { armLoginDeadline(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        login.deadline?.cancel()
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var payload = unwrapInboundIn(data)
        hub.metrics.bytesIn.increment(by: payload.readableBytes)
        if output.compressing, FrameCompression.isCompressed(payload) {
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
        login.clear()
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
}
