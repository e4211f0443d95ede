import ChatProtocol
public import NIOCore

/// Cuts a connection's decrypted bytes into frame payloads by ``FrameDecoder``'s rules (a
/// declared length above the limit is an error before anything of it is buffered).
///
/// What `ByteToMessageHandler(FrameDecoder())` does, in a handler the compiler specializes:
/// that generic class lives in NIOCore and ran unspecialized here, looking up generic metadata
/// on every read, about a sixth of the CPU spent reading a message (2% of the server's at
/// 50,000 deliveries/s). NIO's processor is inlinable, so it compiles for `FrameDecoder` here.
/// Public for the micro-benchmarks only (Benchmarks/Micro), which compare the two.
@_spi(Benchmarks) public final class FrameSplitter: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let processor: NIOSingleStepByteToMessageProcessor<FrameDecoder>
    /// After a framing error the stream cannot be resynchronised: the rest is dropped.
    private var failed = false

    public init(maximumFrameLength: Int) {
        processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maximumFrameLength: maximumFrameLength))
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        do {
            try processor.process(buffer: unwrapInboundIn(data)) { payload in
                context.fireChannelRead(wrapInboundOut(payload))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
        }
    }
}
