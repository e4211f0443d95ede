import ChatTLS
import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
public import NIOSSL
import NIOTLS

/// The certificate and key an HTTPS listener serves, re-read on demand (SIGHUP after a
/// renewal): connections accepted afterwards get the new certificate, open ones keep theirs.
public final class ReloadableTLSContext: Sendable {
    public let certificateChainPath: String
    public let privateKeyPath: String
    private let current: NIOLockedValueBox<NIOSSLContext>

    /// Loads the PEM certificate chain and key; throws when they cannot be used.
    public init(certificateChainPath: String, privateKeyPath: String) throws {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        current = NIOLockedValueBox(try TLSContexts.httpServer(certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath))
    }

    /// The context new connections get.
    public var context: NIOSSLContext { current.withLockedValue { $0 } }

    /// Reads the files again. On failure (a half-written renewal, a key that does not match)
    /// the previous certificate stays in use and the error is thrown.
    public func reload() throws {
        let fresh = try TLSContexts.httpServer(certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath)
        current.withLockedValue { $0 = fresh }
    }
}

/// A child channel that terminates TLS with the ``ReloadableTLSContext``'s context of the
/// moment, then hands the connection to `base` (HTTP/1, or HTTP/1 with WebSocket upgrade).
struct ReloadableTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let tls: ReloadableTLSContext
    let handshakeTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
            // A peer that connects and never completes its handshake does not hold a
            // connection for ever.
            let deadline = channel.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
            try channel.pipeline.syncOperations.addHandler(HandshakeWatch(deadline: deadline))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Cancels the handshake deadline once TLS is up, then leaves the pipeline.
private final class HandshakeWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let deadline: Scheduled<Void>

    init(deadline: Scheduled<Void>) {
        self.deadline = deadline
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            deadline.cancel()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.cancel()
        context.fireChannelInactive()
    }
}

extension ServerChildChannel {
    /// This channel behind TLS (an existential opened for ``ReloadableTLSChannel``).
    func behindTLS(_ tls: ReloadableTLSContext, handshakeTimeout: TimeAmount) -> any ServerChildChannel {
        ReloadableTLSChannel(base: self, tls: tls, handshakeTimeout: handshakeTimeout)
    }
}
