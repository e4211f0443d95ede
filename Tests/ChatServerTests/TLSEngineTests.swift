import ChatProtocol
import ChatServer
import ChatTLS
import ChatTestSupport
import Testing

/// The server's three ways of writing TLS, each through real connections on loopback: our own
/// handler sending to the socket itself (the default), our own handler writing down the
/// pipeline (`--pipeline-writes`), and swift-nio-ssl's handler (`--tls-engine niossl`). The
/// last two exist to measure the first against (docs/PERFORMANCE.md); this suite keeps them
/// working, so that a comparison run measures a server that delivers correctly.
@Suite struct TLSEngineTests {
    enum Writer: String, CaseIterable, CustomTestStringConvertible {
        case directToSocket, directThroughPipeline, nioSSL
        var testDescription: String { rawValue }

        func context(_ certificates: LocalCertificateAuthority.Result) throws -> ServerTLSContext {
            try TLSContexts.server(
                certificateChainPath: certificates.server.certificatePath,
                privateKeyPath: certificates.server.privateKeyPath,
                engine: self == .nioSSL ? .nioSSL : .direct,
                sendsToSocket: self == .directToSocket
            )
        }
    }

    /// A server in a fresh directory whose TLS is written by `writer`.
    private func withServer(_ writer: Writer, _ body: (TestServer) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        let context = try writer.context(try LocalCertificateAuthority.loadOrCreate(in: directory.path))
        try await TestServer.with(dataDirectory: directory.path, configure: { $0.tls = context }, body)
    }

    @Test(arguments: Writer.allCases)
    func broadcastsAndDirectMessagesArriveWhole(writer: Writer) async throws {
        try await withServer(writer) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            try await alice.say("hello everyone 😀", as: "alice")
            for client in [alice, bob, carol] {
                #expect(try await client.nextMessages().map(\.content) == ["hello everyone 😀"])
            }
            try await bob.say("for alice only", as: "bob", to: "alice")
            #expect(try await alice.nextMessages().map(\.content) == ["for alice only"])
            #expect(try await bob.nextMessages().map(\.content) == ["for alice only"])
            // The direct message never reached carol: the next thing she sees is this broadcast.
            try await carol.say("after", as: "carol")
            #expect(try await carol.nextMessages().map(\.content) == ["after"])
        }
    }

    /// Many frames, several larger than a TLS record (16 KiB), in order and none lost.
    @Test(arguments: Writer.allCases)
    func manyFramesAndLargeOnesArriveInOrder(writer: Writer) async throws {
        try await withServer(writer) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let contents = (0..<200).map { index in
                index % 20 == 0 ? String(repeating: "\(index % 10)", count: 40_000) : "line \(index)"
            }
            for content in contents { try await alice.say(content, as: "alice") }
            var received: [String] = []
            while received.count < contents.count { received += try await bob.nextMessages().map(\.content) }
            #expect(received == contents)
        }
    }
}
