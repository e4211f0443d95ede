import ChatProtocol
public import NIOCore

/// A frame that began arriving did not complete within the frame timeout.
struct FrameTimeoutError: Error, CustomStringConvertible {
    var timeout: TimeAmount

    var description: String {
        "A frame was not completed within \(timeout.nanoseconds / 1_000_000_000) seconds of its first bytes. Closing the connection"
    }
}

/// Cuts a connection's decrypted bytes into frame payloads by ``FrameDecoder``'s rules (a
/// declared length above the limit is an error before anything of it is buffered), and gives
/// each frame a deadline: once its first bytes are in, the rest must follow within the frame
/// timeout, or the connection is closed (a peer holding a partial frame holds its buffer, up to
/// the frame limit, for as long as it likes otherwise).
///
/// The deadline counts only time the server was reading: while reads are held back (the read
/// rate limiter above pausing, the session waiting for a login), its clock stops, as the missing
/// bytes are then the server's doing. That is seen by the reads passing down: a read the
/// handler forwards starts the clock, the next bytes stop it.
///
/// What `ByteToMessageHandler(FrameDecoder())` does, in a handler the compiler specializes:
/// that generic class lives in NIOCore and ran unspecialized here, looking up generic metadata
/// on every read, about a sixth of the CPU spent reading a message (2% of the server's at
/// 50,000 deliveries/s). NIO's processor is inlinable, so it compiles for `FrameDecoder` here.
/// Public for the micro-benchmarks only (Benchmarks/Micro), which compare the two; it stays
/// here, behind the SPI, as it is the server's own frame cutter.
@_spi(Benchmarks) public final class FrameSplitter: ChannelDuplexHandler, PassesWritesThrough {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let processor: NIOSingleStepByteToMessageProcessor<FrameDecoder>
    /// After a framing error the stream cannot be resynchronised: the rest is dropped.
    private var failed = false
    private let frameTimeout: TimeAmount?
    /// Reading time the partial frame has had so far, while it waited for the peer.
    private var partialFrameWaited: TimeAmount = .zero
    /// When the current wait for the peer began (a read went down with a partial frame held).
    private var waitingSince: NIODeadline?
    private var expiry: Scheduled<Void>?

    /// `frameTimeout`: how long a frame may take to arrive once begun; `nil` for no limit.
    public init(maximumFrameLength: Int, frameTimeout: TimeAmount? = nil) {
        processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumFrameLength: maximumFrameLength))
        self.frameTimeout = frameTimeout
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let now = NIODeadline.now()
        if let waitingSince {
            partialFrameWaited = partialFrameWaited + (now - waitingSince)
            self.waitingSince = nil
        }
        expiry?.cancel()
        expiry = nil
        var completed = false
        do {
            try processor.process(buffer: unwrapInboundIn(data)) { payload in
                completed = true
                context.fireChannelRead(wrapInboundOut(payload))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            return
        }
        // A frame completed: what is left begins the next one, whose clock starts now.
        if completed || processor.unprocessedBytes == 0 { partialFrameWaited = .zero }
    }

    public func read(context: ChannelHandlerContext) {
        if let frameTimeout, !failed, processor.unprocessedBytes > 0, waitingSince == nil {
            let now = NIODeadline.now()
            waitingSince = now
            let remaining = frameTimeout - partialFrameWaited
            guard remaining > .zero else { return expire(context: context, timeout: frameTimeout) }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            expiry = context.eventLoop.scheduleTask(in: remaining) {
                let (splitter, context) = loopBound.value
                splitter.expire(context: context, timeout: frameTimeout)
            }
        }
        context.read()
    }

    private func expire(context: ChannelHandlerContext, timeout: TimeAmount) {
        guard !failed else { return }
        failed = true
        expiry = nil
        context.fireErrorCaught(FrameTimeoutError(timeout: timeout))
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        expiry?.cancel()
    }
}
