public import NIOCore

/// The framing below an adopted connection's session could not go on (a WebSocket frame over
/// the limit, a protocol violation): the session sends `reason` as its last ERROR and closes.
public struct ConnectionFramingError: Error, Sendable, CustomStringConvertible {
    /// The ERROR text, a whole sentence.
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Why ``ChatServer/adoptConnection(_:framing:)`` could not take a connection.
public enum ConnectionAdoptionError: Error, CustomStringConvertible {
    /// The channel runs on an event loop that is not one of the server's (see
    /// ``ChatServer/borrowEventLoops()``).
    case foreignEventLoop

    public var description: String {
        switch self {
        case .foreignEventLoop: "the connection is not on one of the chat server's event loops"
        }
    }
}

extension ChatServer {
    /// Runs a chat session on a connection another listener of this process accepted and made
    /// ready (the browser gateway's WebSocket, once upgraded), as if it had come to the chat
    /// port: the same connection limits for its peer's address, login deadline, message and
    /// read rates, outbound budget and protocol. Call on the channel's event loop, which must be
    /// one of the server's (``borrowEventLoops()``).
    ///
    /// - Parameter framing: handlers added first, below the session, that turn what arrives
    ///   into one JSON frame payload per read (as `ByteBuffer`, without the length prefix) and
    ///   take length-prefixed frames (one or several per write, never compressed) to send. A
    ///   connection over the limits gets one ERROR through them, then is closed.
    public func adoptConnection(_ channel: any Channel, framing: [any ChannelHandler]) throws {
        channel.eventLoop.preconditionInEventLoop()
        guard hub.hasOutbox(for: channel.eventLoop) else { throw ConnectionAdoptionError.foreignEventLoop }
        let limits = configuration.limits
        let address = ConnectionLimiter.key(for: channel.remoteAddress)
        if hasStopped {
            // As the chat port, which no longer listens: one ERROR, then close.
            try channel.pipeline.syncOperations.addHandlers(framing)
            try channel.pipeline.syncOperations.addHandler(RefusalHandler(reason: "The server is shutting down. Try again later."))
            return
        }
        let admission = admit(channel, from: address, what: "a WebSocket connection")
        if case .dropped = admission { return }
        let pipeline = channel.pipeline.syncOperations
        if case .refused(let reason) = admission {
            try pipeline.addHandlers(framing)
            try pipeline.addHandler(RefusalHandler(reason: reason))
            return
        }
        hub.metrics.webSocketConnectionsAccepted.increment()
        // As the chat port's connections: unwritable once a queue is worth counting against
        // the outbound budget, and no delay for small writes.
        let tracking = hub.outboundBudget.trackingThreshold
        if let options = channel.syncOptions {
            try options.setOption(.writeBufferWaterMark, value: .init(low: tracking / 4, high: tracking))
            try? options.setOption(.tcpOption(.tcp_nodelay), value: configuration.sendsImmediately ? 1 : 0)
        }
        // Right above the head: it sees the bytes that go into NIO's queue (below TLS).
        try pipeline.addHandler(OutboundBacklog(budget: hub.outboundBudget, eventLoop: channel.eventLoop), position: .first)
        try pipeline.addHandlers(framing)
        var readLimiter: ReadRateLimiter?
        if limits.framesPerSecond > 0 || limits.readBytesPerSecond > 0 {
            let limiter = ReadRateLimiter(
                framesPerSecond: limits.framesPerSecond, burst: limits.frameBurst,
                bytesPerSecond: Double(limits.readBytesPerSecond), byteBurst: limits.readByteBurst)
            try pipeline.addHandler(limiter)
            readLimiter = limiter
        }
        // No TLS handler of ours below: deliveries go down the pipeline, through the framing.
        let session = SessionHandler(hub: hub, eventLoop: channel.eventLoop, address: address, tlsBelow: nil, readLimiter: readLimiter, adopted: true)
        try pipeline.addHandler(session)
    }
}
