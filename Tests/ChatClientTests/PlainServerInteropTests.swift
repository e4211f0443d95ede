import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

/// The Chatterbox client against a server that implements only the seed protocol.
@Suite struct PlainServerInteropTests {
    private func runClient(against server: PlainSpecServer, output: OutputRecorder, input: AsyncStream<String>) -> Task<LineModeClient.Ending, any Error> {
        let client = LineModeClient(ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: .plaintext, plainLoginDelay: .milliseconds(200)))
        return Task { try await client.run(input: input, output: { output.append($0) }, prompt: { output.append($0) }) }
    }

    @Test func chatsAndRunsCommandsLocallyAgainstAPlainServer() async throws {
        try await PlainSpecServer.with { server in
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input)
            defer { running.cancel() }
            try await output.waitFor("Username:")
            typing.yield("alice")
            try await output.waitFor("Welcome!")
            try await output.waitFor("does not run Chatterbox commands")

            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            try await output.waitFor("--> bob joined")
            try await bob.say("first from bob", as: "bob")
            try await output.waitFor("<bob> first from bob")

            typing.yield("/DisplayUsers")
            try await output.waitFor("Online now (2): alice, bob")
            typing.yield("/Block bob")
            try await output.waitFor("Blocked bob on this screen")
            try await bob.say("hidden from alice", as: "bob")
            typing.yield("//literal slash")
            // The plain server relays text as is: the client removed one slash itself.
            #expect(try await bob.next { $0.messages?.first?.source == "alice" }.frame.messages?.first?.content == "/literal slash")
            try await output.waitFor("<alice> /literal slash")
            #expect(!output.all.contains { $0.contains("hidden from alice") })
            // None of the commands reached the server as chat.
            #expect(!output.all.contains { $0.contains("<alice> /") && !$0.contains("/literal slash") })

            typing.yield("/quit")
            #expect(try await running.value == .quit)
            await bob.close()
        }
    }

    @Test func retriesAsAPlainClientWhenTheServerRefusesExtensions() async throws {
        try await PlainSpecServer.with(strictness: .rejectsUnknownKeys) { server in
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input)
            defer { running.cancel() }
            try await output.waitFor("Username:")
            typing.yield("carol")
            try await output.waitFor("retrying as a plain client")
            try await output.waitFor("Welcome!")
            let logins = server.loginFrames.withLockedValue { $0 }
            #expect(logins.map(\.features) == [ChatSession.requestedFeatures, nil])
            typing.yield("/Quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func reportsWhenTheServerGoesAway() async throws {
        let server = PlainSpecServer()
        _ = try await server.start()
        let output = OutputRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let running = runClient(against: server, output: output, input: input)
        defer { running.cancel() }
        try await output.waitFor("Username:")
        typing.yield("dave")
        try await output.waitFor("Welcome!")
        await server.stop()
        guard case .serverClosed = try await running.value else {
            Issue.record("expected the server to be reported gone")
            return
        }
        #expect(output.all.contains { $0.contains("closed the connection") || $0.contains("Connection lost") })
    }
}
