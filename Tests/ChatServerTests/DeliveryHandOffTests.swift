@_spi(Benchmarks) @testable import ChatServer
import NIOCore
import Testing

/// The session hands its deliveries to the TLS handler directly, past the handlers between
/// them: only handlers that leave writes alone may stand there (ChatServer.setUpConnection
/// asserts it for each; GatheredDeliveryTests and MessagingTests cover the deliveries).
@Suite struct DeliveryHandOffTests {
    /// A handler that would act on writes: the hand-off would skip it.
    private final class WriteCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var writes = 0
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            writes += 1
            context.write(data, promise: promise)
        }
    }

    @Test func onlyHandlersThatLeaveWritesAloneMayStandBelowTheSession() {
        #expect(ChatServer.mayStandBelowSession(FrameSplitter(maximumFrameLength: 1024)))
        #expect(ChatServer.mayStandBelowSession(ReadRateLimiter(framesPerSecond: 10, burst: 10)))
        #expect(ChatServer.mayStandBelowSession(HandshakeDeadline(timeout: .seconds(1))))
        #expect(!ChatServer.mayStandBelowSession(WriteCounter()))
    }
}
