import ChatServer
import NIOCore
import NIOWebSocket

/// Between a browser's WebSocket and a chat session: each text message the browser sends is
/// one chat frame's JSON, handed up as the TCP port's frame splitter hands up a payload; each
/// length-prefixed frame the session writes goes out as one text message. So the session,
/// the hub and the protocol are the chat port's, unchanged (issue 19).
///
/// It also speaks the WebSocket protocol's own part: answers pings, echoes a close and closes,
/// assembles fragmented messages within the frame limit, and sends a close frame (with a code
/// saying why) before the connection closes. Anything it cannot go on with (a message over the
/// limit, a binary message, an unmasked frame) is raised as a ``ConnectionFramingError``: the
/// session says why in an ERROR, then closes.
final class WebSocketFraming: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    /// The largest message accepted, in bytes: the chat port's frame limit.
    let maximumMessageLength: Int
    /// A fragmented text message being assembled.
    private var message: ByteBuffer?
    private var failed = false
    /// The close frame was sent (ours or the echo of the peer's): nothing may follow it.
    private var closeSent = false
    /// The code our close frame will carry.
    private var closeCode = WebSocketErrorCode.normalClosure
    /// Bytes of a length-prefixed frame written in pieces (the session writes whole frames, so
    /// this stays empty; bounded by the frame limit all the same).
    private var partialOutbound: ByteBuffer?
    /// Our close frame is out and the peer's answer awaited (RFC 6455 section 7.1.1): the
    /// connection closes when it comes, or when the wait is given up.
    private var pendingClose: (mode: CloseMode, promise: EventLoopPromise<Void>?, giveUp: Scheduled<Void>)?

    init(maximumMessageLength: Int) {
        self.maximumMessageLength = maximumMessageLength
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // After a failure only the peer's answer to our close frame still matters.
        guard !failed || frame.opcode == .connectionClose else { return }
        // RFC 6455 section 5.1: a server closes on an unmasked frame from a client.
        guard frame.maskKey != nil else {
            return fail(context, "WebSocket frames from a client must be masked. Closing the connection.", code: .protocolError)
        }
        switch frame.opcode {
        case .text:
            guard message == nil else {
                return fail(context, "A WebSocket message began before the previous one ended. Closing the connection.", code: .protocolError)
            }
            if frame.fin {
                context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
            } else {
                message = frame.unmaskedData
            }
        case .continuation:
            guard var assembled = message else {
                return fail(context, "A WebSocket continuation frame came without a message to continue. Closing the connection.", code: .protocolError)
            }
            guard assembled.readableBytes + frame.length <= maximumMessageLength else {
                return fail(context, "WebSocket message of more than \(maximumMessageLength) bytes exceeds the maximum of \(maximumMessageLength) bytes. Closing the connection.", code: .messageTooLarge)
            }
            var data = frame.unmaskedData
            assembled.writeBuffer(&data)
            if frame.fin {
                message = nil
                context.fireChannelRead(wrapInboundOut(assembled))
            } else {
                message = assembled
            }
        case .binary:
            fail(context, "Send each chat frame as a WebSocket text message of its JSON (binary messages are not read). Closing the connection.", code: .unacceptableData)
        case .ping:
            guard !closeSent else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            // The peer is leaving: echo its close (RFC 6455 section 5.5.1), then close.
            guard !closeSent else {
                // The answer to our close frame: now the connection may close.
                if pendingClose != nil { finishClose(context: context) } else { context.close(promise: nil) }
                return
            }
            closeSent = true
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: code)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).whenComplete { _ in
                channel.close(promise: nil)
            }
        default:
            fail(context, "Unknown WebSocket opcode \(frame.opcode). Closing the connection.", code: .protocolError)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let problem = error as? NIOWebSocketError else {
            context.fireErrorCaught(error)
            return
        }
        switch problem {
        case .invalidFrameLength:
            // The decoder below refuses a frame over the limit before buffering any of it.
            fail(context, "WebSocket frame exceeds the maximum of \(maximumMessageLength) bytes. Closing the connection.", code: .messageTooLarge)
        default:
            fail(context, "WebSocket protocol error (\(problem)). Closing the connection.", code: .protocolError)
        }
    }

    /// The HTTP listener is stopping (hummingbird's graceful shutdown waits for its
    /// connections): the chat server has said goodbye already when `chatterbox server` stops,
    /// so whatever is left goes with a close frame saying the server is going away.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            closeCode = .goingAway
            context.channel.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        message = nil
        partialOutbound = nil
        if let pending = pendingClose {
            pendingClose = nil
            pending.giveUp.cancel()
            pending.promise?.succeed()
        }
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String, code: WebSocketErrorCode) {
        guard !failed else { return }
        failed = true
        message = nil
        closeCode = code
        // The session above says why in an ERROR, then closes (and the close frame follows).
        context.fireErrorCaught(ConnectionFramingError(reason: reason))
    }

    // MARK: - Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closeSent else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var frames = unwrapOutboundIn(data)
        if var partial = partialOutbound {
            partial.writeBuffer(&frames)
            frames = partial
            partialOutbound = nil
        }
        var messages: [ByteBuffer] = []
        while let length = frames.getInteger(at: frames.readerIndex, as: UInt32.self),
              frames.readableBytes >= 4 + Int(length) {
            frames.moveReaderIndex(forwardBy: 4)
            messages.append(frames.readSlice(length: Int(length))!)
        }
        if frames.readableBytes > 0 {
            guard frames.readableBytes <= maximumMessageLength + 4 || maximumMessageLength == 0 else {
                promise?.fail(ConnectionFramingError(reason: "An outbound frame was cut."))
                return
            }
            partialOutbound = frames
        }
        guard let last = messages.indices.last else {
            promise?.succeed()
            return
        }
        for (index, payload) in messages.enumerated() {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: payload)), promise: index == last ? promise : nil)
        }
    }

    /// Closing: the close frame first (RFC 6455 section 7.1.1), then the connection once the
    /// peer has answered with its own, as the RFC asks. Closing at once made the peer's kernel
    /// answer its close frame with a reset, which could discard what it had not read yet (the
    /// ERROR saying why). A peer that does not answer within 2 s (or never reads, so that the
    /// close frame cannot leave) is closed all the same.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !closeSent, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: closeCode)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        let (handler, boundContext) = (NIOLoopBound(self, eventLoop: context.eventLoop), NIOLoopBound(context, eventLoop: context.eventLoop))
        let giveUp = context.eventLoop.scheduleTask(in: .seconds(2)) { handler.value.finishClose(context: boundContext.value) }
        pendingClose = (mode, promise, giveUp)
    }

    private func finishClose(context: ChannelHandlerContext) {
        guard let pending = pendingClose else { return }
        pendingClose = nil
        pending.giveUp.cancel()
        context.close(mode: pending.mode, promise: pending.promise)
    }
}
