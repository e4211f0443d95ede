import NIOCore

/// Paces how fast a connection's frames are read: each frame takes a token, and while the
/// bucket is empty the next socket read waits for a refill. A flood of frames thus slows down
/// at the sender's TCP window instead of costing the server memory or other users time.
final class ReadRateLimiter: ChannelDuplexHandler, PassesWritesThrough {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var bucket: TokenBucket
    private var readHeldBack = false
    private var resumeScheduled: Scheduled<Void>?

    init(framesPerSecond: Double, burst: Int) {
        bucket = TokenBucket(rate: framesPerSecond, burst: burst)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bucket.charge()
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        let wait = bucket.timeUntilToken()
        guard wait > .zero else {
            context.read()
            return
        }
        guard !readHeldBack else { return }
        readHeldBack = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        resumeScheduled = context.eventLoop.scheduleTask(in: wait) {
            let (limiter, context) = loopBound.value
            limiter.readHeldBack = false
            limiter.resumeScheduled = nil
            limiter.read(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resumeScheduled?.cancel()
    }
}
