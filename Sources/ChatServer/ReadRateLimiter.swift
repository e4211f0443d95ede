import NIOCore

/// Paces how fast a connection's frames are read: each frame takes a token from a bucket of
/// frames and its bytes from a bucket of bytes, a compressed frame its inflated bytes (the
/// session charges what inflating added, ``chargeInflated(_:)``). A frame that finds either
/// bucket empty is held back, and the next socket read waits, until they refill. A flood thus
/// slows down at the sender's TCP window instead of costing the server memory or other users
/// time; and a frame of a kilobyte that inflates to a megabyte costs its sender a megabyte's
/// worth of the allowance (issue 21, item 9), not a kilobyte's.
///
/// What is held back is bounded: only frames already read (one socket read's worth, cut into
/// frames) wait here, as no read is made while any does.
final class ReadRateLimiter: ChannelDuplexHandler, PassesWritesThrough {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var frames: TokenBucket
    private var bytes: TokenBucket
    private var heldBack = CircularBuffer<ByteBuffer>()
    private var readHeldBack = false
    private var resumeScheduled: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    /// A rate of 0 switches that bucket off.
    init(framesPerSecond: Double, burst: Int, bytesPerSecond: Double = 0, byteBurst: Int = 1) {
        frames = TokenBucket(rate: framesPerSecond, burst: burst)
        bytes = TokenBucket(rate: bytesPerSecond, burst: byteBurst)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resumeScheduled?.cancel()
        heldBack.removeAll()
        self.context = nil
    }

    /// The session inflated a compressed frame: the bytes that added are charged too.
    func chargeInflated(_ added: Int) {
        guard added > 0 else { return }
        bytes.charge(Double(added))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let now = NIODeadline.now()
        guard heldBack.isEmpty, waitTime(now: now) == .zero else {
            heldBack.append(frame)
            scheduleResume(context)
            return
        }
        pass(frame, context, now: now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Held-back frames get their read-complete when they are passed on.
        if heldBack.isEmpty { context.fireChannelReadComplete() }
    }

    func read(context: ChannelHandlerContext) {
        guard heldBack.isEmpty, waitTime() == .zero else {
            readHeldBack = true
            scheduleResume(context)
            return
        }
        context.read()
    }

    private func pass(_ frame: ByteBuffer, _ context: ChannelHandlerContext, now: NIODeadline = .now()) {
        frames.charge(now: now)
        bytes.charge(Double(frame.readableBytes), now: now)
        context.fireChannelRead(wrapInboundOut(frame))
    }

    /// How long until both buckets have a token.
    private func waitTime(now: NIODeadline = .now()) -> TimeAmount {
        max(frames.timeUntilToken(now: now), bytes.timeUntilToken(now: now))
    }

    private func scheduleResume(_ context: ChannelHandlerContext) {
        guard resumeScheduled == nil else { return }
        let wait = max(waitTime(), .microseconds(1))
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        resumeScheduled = context.eventLoop.scheduleTask(in: wait) {
            let limiter = loopBound.value
            limiter.resumeScheduled = nil
            limiter.resume()
        }
    }

    /// Passes on what the buckets allow now; reads again once nothing is held back.
    private func resume() {
        guard let context else { return }
        var passed = false
        while !heldBack.isEmpty, waitTime() == .zero {
            pass(heldBack.removeFirst(), context)
            passed = true
            // The session may have closed the channel meanwhile.
            guard self.context != nil else { return }
        }
        if passed { context.fireChannelReadComplete() }
        guard heldBack.isEmpty, waitTime() == .zero else {
            scheduleResume(context)
            return
        }
        if readHeldBack {
            readHeldBack = false
            context.read()
        }
    }
}
