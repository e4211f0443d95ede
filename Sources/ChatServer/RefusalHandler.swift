import ChatProtocol
import NIOCore

/// Answers a connection the server will not serve with one ERROR frame, then closes it.
final class RefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reason: String
    private var sent = false

    init(reason: String) {
        self.reason = reason
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing the peer says matters any more.
    }

    private func refuse(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        let channel = context.channel
        // With TLS the frame waits for the handshake; the handshake deadline bounds the wait.
        context.writeAndFlush(wrapOutboundOut(FrameCoding.encode(Frame(error: reason)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
