@testable import ChatTLS
import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Testing

/// The server's own TLS handler against swift-nio-ssl's client, byte for byte, on embedded
/// channels: the handshake, data both ways, the edges of closing, and that an idle
/// connection holds no buffers.
@Suite struct TLSServerHandlerTests {
    @Test func handshakeThenDataBothWaysAndNothingHeldWhenIdle() throws {
        let pair = try TLSPair()
        try pair.pump()
        #expect(pair.server.events.handshakes == 1)

        try pair.client.channel.writeAndFlush(ByteBuffer(string: "hello")).completedValue()
        try pair.pump()
        #expect(try pair.server.readText() == "hello")

        // Larger than one TLS record (16 KiB), so it is split and reassembled.
        let large = String(repeating: "0123456789abcdef", count: 100_000 / 16)
        try pair.server.channel.writeAndFlush(ByteBuffer(string: large)).completedValue()
        try pair.pump()
        #expect(try pair.client.readText() == large)

        #expect(pair.serverHandler.heldBufferBytes == 0)
        #expect(pair.server.events.errors.isEmpty)
    }

    @Test func writesBeforeTheHandshakeAreSentWhenItCompletes() throws {
        let pair = try TLSPair()
        let written = pair.server.channel.writeAndFlush(ByteBuffer(string: "early"))
        #expect(pair.serverHandler.heldBufferBytes > 0)
        try pair.pump()
        try written.completedValue()
        #expect(try pair.client.readText() == "early")
    }

    @Test func somethingThatIsNotTLSIsAnErrorAndCloses() throws {
        let pair = try TLSPair()
        _ = try? pair.server.channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(!pair.server.channel.isActive)
        #expect(pair.server.events.errors.contains { $0 is TLSServerError })
    }

    @Test func closingSendsCloseNotifyAndWaitsForTheAnswer() throws {
        let pair = try TLSPair()
        try pair.pump()
        let closed = pair.server.channel.close()
        #expect(pair.server.channel.isActive, "waits for the peer's close_notify")
        try pair.pump()
        try closed.completedValue()
        #expect(!pair.server.channel.isActive)
        #expect(!pair.client.channel.isActive)
        #expect(pair.server.events.errors.isEmpty)
    }

    @Test func closingGivesUpWaitingAfterTheTimeout() throws {
        let pair = try TLSPair()
        try pair.pump()
        let closed = pair.server.channel.close()
        pair.server.channel.embeddedEventLoop.advanceTime(by: TLSServerHandler.closeNotifyTimeout - .milliseconds(1))
        #expect(pair.server.channel.isActive)
        pair.server.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        try closed.completedValue()
        #expect(!pair.server.channel.isActive)
    }

    @Test func thePeersCloseNotifyClosesTheConnection() throws {
        let pair = try TLSPair()
        try pair.pump()
        pair.client.channel.close(promise: nil)
        try pair.pump()
        #expect(!pair.server.channel.isActive)
        #expect(pair.server.events.errors.isEmpty)
    }

    @Test func writesAfterCloseFailInsteadOfVanishing() throws {
        let pair = try TLSPair()
        try pair.pump()
        pair.server.channel.close(promise: nil)
        #expect(throws: ChannelError.self) {
            try pair.server.channel.writeAndFlush(ByteBuffer(string: "late")).completedValue()
        }
    }
}

/// One end of a TLS conversation on an embedded channel.
struct TLSEnd {
    let channel: EmbeddedChannel
    let events: EventRecorder

    func readText() throws -> String {
        var text = ""
        while var buffer = try channel.readInbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text
    }
}

/// Our server handler and swift-nio-ssl's client, connected by handing bytes across.
struct TLSPair {
    let server: TLSEnd
    let serverHandler: TLSServerHandler
    let client: TLSEnd

    init() throws {
        let identity = try TestIdentity.shared()
        let context = try TLSContexts.server(
            certificateChainPath: identity.server.certificatePath,
            privateKeyPath: identity.server.privateKeyPath
        )
        serverHandler = TLSServerHandler(context: context)
        let serverEvents = EventRecorder()
        let serverChannel = EmbeddedChannel()
        try serverChannel.pipeline.syncOperations.addHandlers([serverHandler, serverEvents])
        server = TLSEnd(channel: serverChannel, events: serverEvents)

        let clientContext = try TLSContexts.client(trust: .certificateAuthorityFile(identity.caCertificatePath))
        let clientEvents = EventRecorder()
        let clientChannel = EmbeddedChannel()
        try clientChannel.pipeline.syncOperations.addHandlers([
            try NIOSSLClientHandler(context: clientContext, serverHostname: "localhost"), clientEvents,
        ])
        client = TLSEnd(channel: clientChannel, events: clientEvents)

        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9000)
        try serverChannel.connect(to: address).completedValue()
        try clientChannel.connect(to: address).completedValue()
    }

    /// Hands bytes across until neither side has anything more to say.
    func pump() throws {
        for _ in 0..<1000 {
            var moved = false
            while let bytes = try client.channel.readOutbound(as: ByteBuffer.self) {
                if server.channel.isActive { try server.channel.writeInbound(bytes) }
                moved = true
            }
            while let bytes = try server.channel.readOutbound(as: ByteBuffer.self) {
                if client.channel.isActive { try client.channel.writeInbound(bytes) }
                moved = true
            }
            if !moved { return }
        }
        Issue.record("the two ends never stopped talking")
    }
}

/// Passes reads on; keeps the events and errors that reach it.
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var handshakes = 0
    private(set) var errors: [any Error] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { handshakes += 1 }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

/// A certificate authority and server certificate for "localhost", made once per test run.
enum TestIdentity {
    /// Where the files live for this test run; removed when the process exits.
    private static let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("chatterbox-tls-tests-\(getpid())").path

    private static let made: Result<LocalCertificateAuthority.Result, any Error> = Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestIdentity.directory) }
        return try LocalCertificateAuthority.loadOrCreate(in: directory, hostNames: ["localhost"])
    }

    static func shared() throws -> LocalCertificateAuthority.Result {
        try made.get()
    }
}
