@testable import ChatTLS
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOSSL
import Testing

/// The server's TLS handler sending to the socket itself, over real TLS connections on
/// loopback: that it finds the connection's descriptor, that a full socket hands the rest to
/// the channel without reordering a byte and direct sends resume once the channel is drained,
/// and that a closed or reset connection is never written behind NIO's back.
@Suite struct SocketSenderTests {
    @Test func findsTheDescriptorOfASocketChannelAndNotOfOthers() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        let found = try connection.onServerLoop { SocketSender(channel: connection.server) != nil }
        #expect(found)
        #expect(SocketSender(channel: EmbeddedChannel()) == nil)
    }

    @Test func writesGoStraightToTheSocketWhileNothingIsQueued() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        let before = try connection.onServerLoop { connection.handler.directSendCount }
        let chunks = (0..<20).map { LoopbackTLS.chunk(index: $0, size: 200) }
        for chunk in chunks { try connection.server.writeAndFlush(chunk).wait() }
        try connection.client.waitForBytes(20 * 200)
        #expect(connection.client.inOrder)
        let (direct, throughChannel) = try connection.onServerLoop {
            (connection.handler.directSendCount, connection.handler.channelSendCount)
        }
        #expect(direct - before == 20)
        #expect(throughChannel == 0)
    }

    @Test func aFullSocketHandsTheRestToTheChannelInOrderThenSendsDirectlyAgain() throws {
        let connection = try LoopbackTLS(smallBuffers: true)
        defer { connection.shutDown() }
        try connection.client.channel.setOption(ChannelOptions.autoRead, value: false).wait()

        // 1 MiB while the client reads nothing: the 4 KiB socket buffers fill at once.
        let count = 256
        let size = 4096
        let written = try connection.onServerLoop {
            let futures = (0..<count).map { connection.server.writeAndFlush(LoopbackTLS.chunk(index: $0, size: size)) }
            return EventLoopFuture.andAllSucceed(futures, on: connection.server.eventLoop)
        }
        let queued = try connection.onServerLoop { connection.handler.channelSendCount }
        #expect(queued > 0, "the socket filled up, so the channel took the rest")

        try connection.client.channel.setOption(ChannelOptions.autoRead, value: true).wait()
        connection.client.channel.read()
        try connection.client.waitForBytes(count * size)
        try written.wait()
        #expect(connection.client.inOrder)

        let direct = try connection.onServerLoop { connection.handler.directSendCount }
        try connection.server.writeAndFlush(LoopbackTLS.chunk(index: count, size: size)).wait()
        try connection.client.waitForBytes((count + 1) * size)
        #expect(connection.client.inOrder)
        #expect(try connection.onServerLoop { connection.handler.directSendCount } == direct + 1)
    }

    @Test func writesFromAboveKeepTheirPlaceAmongPipelineWrites() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        // Alternating: even chunks through the pipeline, odd ones handed to the handler.
        let chunks = (0..<40).map { LoopbackTLS.chunk(index: $0, size: 300) }
        try connection.onServerLoop {
            for (index, chunk) in chunks.enumerated() {
                if index.isMultiple(of: 2) {
                    connection.server.write(chunk, promise: nil)
                } else {
                    connection.handler.writeFromAbove(chunk)
                }
                if index % 10 == 9 { connection.handler.flushFromAbove() }
            }
        }
        try connection.client.waitForBytes(40 * 300)
        #expect(connection.client.inOrder)

        // Once the handler has left the pipeline, a write from above goes nowhere.
        try connection.server.close().wait()
        try connection.onServerLoop {
            connection.handler.writeFromAbove(LoopbackTLS.chunk(index: 40, size: 300))
            connection.handler.flushFromAbove()
        }
        // The client's end closes after the server's close_notify (or at its 1 s timeout).
        try connection.client.channel.closeFuture.wait()
        #expect(connection.client.byteCount == 40 * 300)
    }

    @Test func aClosedChannelIsNeverSentTo() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        let sender = try #require(try connection.onServerLoop { SocketSender(channel: connection.server) })
        try connection.server.close().wait()
        let (outcome, unsent) = try connection.onServerLoop {
            var buffer = ByteBuffer(string: "after close")
            return (sender.send(&buffer), buffer.readableBytes)
        }
        #expect(outcome == .failed)
        #expect(unsent == 11, "nothing consumed")
    }

    @Test func aResetPeerFailsTheWriteAndClosesTheChannel() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        // The server reads nothing more, so only its writes can find out about the reset.
        try connection.server.setOption(ChannelOptions.autoRead, value: false).wait()
        let provider = try #require(connection.client.channel as? any SocketOptionProvider)
        try provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).wait()
        try connection.client.channel.close().wait()

        var failure: (any Error)?
        for index in 0..<200 where failure == nil {
            do {
                try connection.server.writeAndFlush(LoopbackTLS.chunk(index: index, size: 100)).wait()
                try connection.server.eventLoop.scheduleTask(in: .milliseconds(5)) {}.futureResult.wait()
            } catch {
                failure = error
            }
        }
        #expect(failure != nil, "a write to a reset connection fails")
        try connection.server.closeFuture.wait()
        #expect(try connection.onServerLoop { connection.handler.channelSendCount } >= 1)
    }
}

/// A TLS connection on loopback: our server handler on an accepted NIO socket channel,
/// swift-nio-ssl's client on the other end.
final class LoopbackTLS: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let server: any Channel
    /// Touched on the server's loop only.
    var handler: TLSServerHandler { handlerBox.handler }
    let client: ReceivedBytes
    private let handlerBox: HandlerBox
    private let listener: any Channel

    /// `smallBuffers`: 4 KiB socket buffers on both sides, so that a little unread data fills them.
    init(smallBuffers: Bool = false) throws {
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
        listener = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()

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
        received.channel = try clientBootstrap.connect(to: listener.localAddress!).wait()
        client = received
        (server, handlerBox) = try accepted.futureResult.wait()
        // The handshake is done on both sides once something the client sent has come through.
        try client.channel.writeAndFlush(ByteBuffer(string: "hello")).wait()
        try firstRead.futureResult.wait()
    }

    func onServerLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try server.eventLoop.submit(body).wait()
    }

    func shutDown() {
        // The server first: it sends close_notify and the client's answer ends its wait at once.
        try? server.close().wait()
        try? client.channel.close().wait()
        try? listener.close().wait()
        try? group.syncShutdownGracefully()
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
    let handler: TLSServerHandler
}

/// The client's end: counts what arrives and checks that the counters follow one another.
final class ReceivedBytes: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private struct State {
        var bytes = 0
        var next: UInt32 = 0
        var inOrder = true
        /// Bytes of a counter split across reads.
        var partial: [UInt8] = []
    }

    /// Guards `state`; signalled at every change.
    private let condition = NSCondition()
    private var state = State()
    var channel: (any Channel)!

    var inOrder: Bool { locked { $0.inOrder } }
    var byteCount: Int { locked { $0.bytes } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        locked { state in
            state.bytes += buffer.readableBytes
            state.partial += buffer.readableBytesView
            let whole = state.partial.count / 4 * 4
            for start in stride(from: 0, to: whole, by: 4) {
                let value = state.partial[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if value != state.next { state.inOrder = false }
                state.next = value &+ 1
            }
            state.partial.removeFirst(whole)
        }
    }

    private func locked<T>(_ body: (inout State) -> T) -> T {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return body(&state)
    }

    private func waitUntil(_ done: (State) -> Bool, what: String) throws {
        let deadline = Date().addingTimeInterval(10)
        condition.lock()
        defer { condition.unlock() }
        while !done(state) {
            guard condition.wait(until: deadline) else { throw WaitTimedOut(what: what) }
        }
    }

    func waitForBytes(_ count: Int) throws {
        try waitUntil({ $0.bytes >= count }, what: "\(count) bytes")
    }

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

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}
