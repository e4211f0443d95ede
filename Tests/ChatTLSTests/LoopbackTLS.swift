@testable import ChatTLS
import ChatTestSupport
import NIOCore
import NIOPosix
import NIOSSL

/// A TLS connection on loopback: our server handler on an accepted NIO socket channel,
/// swift-nio-ssl's client on the other end. Everything is awaited, never waited for: a test
/// blocking a thread of the cooperative pool (2 on this machine) stalls every other test.
final class LoopbackTLS: Sendable {
    let server: any Channel
    /// Touched on the server's loop only.
    var handler: TLSServerHandler { handlerBox.handler }
    /// The client's end; what reaches it is counted by `received`.
    let client: any Channel
    let received: ReceivedBytes
    private let handlerBox: HandlerBox
    private let listener: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// Runs `body` with a fresh connection, closed and shut down afterwards, also when `body` throws.
    /// `smallBuffers`: 4 KiB socket buffers on both sides, so that a little unread data fills them.
    static func with<Result>(smallBuffers: Bool = false, _ body: (LoopbackTLS) async throws -> Result) async throws -> Result {
        let connection = try await start(smallBuffers: smallBuffers)
        return try await withTeardown { try await body(connection) } teardown: { await connection.shutDown() }
    }

    private static func start(smallBuffers: Bool) async throws -> LoopbackTLS {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var listener: (any Channel)?
        var client: (any Channel)?
        do {
            let identity = try TestIdentity.shared()
            let context = try TLSContexts.server(
                certificateChainPath: identity.server.certificatePath,
                privateKeyPath: identity.server.privateKeyPath
            )
            let accepted = group.next().makePromise(of: (any Channel, HandlerBox).self)
            let firstRead = group.next().makePromise(of: Void.self)
            var bootstrap = ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = TLSServerHandler(context: context)
                        try channel.pipeline.syncOperations.addHandlers([handler, FirstRead(promise: firstRead)])
                        accepted.succeed((channel, HandlerBox(handler: handler)))
                    }
                }
            if smallBuffers { bootstrap = bootstrap.childChannelOption(.socketOption(.so_sndbuf), value: 4096) }
            let boundListener = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            listener = boundListener

            let clientContext = try TLSContexts.client(trust: .certificateAuthorityFile(identity.caCertificatePath))
            let received = ReceivedBytes()
            var clientBootstrap = ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            try NIOSSLClientHandler(context: clientContext, serverHostname: "localhost"), received,
                        ])
                    }
                }
            if smallBuffers { clientBootstrap = clientBootstrap.channelOption(.socketOption(.so_rcvbuf), value: 4096) }
            let connected = try await clientBootstrap.connect(to: boundListener.localAddress!).get()
            client = connected
            let (server, handlerBox) = try await accepted.futureResult.get()
            // The handshake is done on both sides once something the client sent has come through.
            try await connected.writeAndFlush(ByteBuffer(string: "hello"))
            try await firstRead.futureResult.get()
            return LoopbackTLS(
                server: server, client: connected, received: received, handlerBox: handlerBox, listener: boundListener, group: group
            )
        } catch {
            try? await client?.close()
            try? await listener?.close()
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(server: any Channel, client: any Channel, received: ReceivedBytes, handlerBox: HandlerBox, listener: any Channel, group: MultiThreadedEventLoopGroup) {
        self.server = server
        self.client = client
        self.received = received
        self.handlerBox = handlerBox
        self.listener = listener
        self.group = group
    }

    /// Runs `body` on the server's loop, where the handler lives, and returns what it returned.
    func onServerLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await server.eventLoop.submit(body).get()
    }

    private func shutDown() async {
        // The server first: it sends close_notify and the client's answer ends its wait at once.
        try? await server.close()
        try? await client.close()
        try? await listener.close()
        try? await group.shutdownGracefully()
    }

    /// `size` bytes of big-endian 32-bit counters, continuing from chunk `index - 1`.
    static func chunk(index: Int, size: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        let first = index * size / 4
        for counter in first..<first + size / 4 { buffer.writeInteger(UInt32(counter)) }
        return buffer
    }
}

/// The server's handler, handed from its loop to the test, which touches it on that loop only.
struct HandlerBox: @unchecked Sendable {
    // @unchecked: every use of `handler` is inside `LoopbackTLS.onServerLoop` (or the
    // pipeline itself), so it never leaves the one thread of the server's loop.
    let handler: TLSServerHandler
}

/// Completes its promise at the first read that reaches it (the server side's handshake is done).
final class FirstRead: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed()
    }
}
