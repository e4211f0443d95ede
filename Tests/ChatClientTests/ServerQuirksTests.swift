import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

/// The client against servers of the protocol that behave as other implementations do: one
/// that chokes on FEATURES, one that sends "true" as a string, one that does not echo direct
/// messages, one that replays everybody's direct messages.
@Suite struct ServerQuirksTests {
    private func runClient(
        against server: PlainSpecServer, output: OutputRecorder, input: AsyncStream<String>,
        reconnect: ReconnectPolicy = .never, configure: (inout ChatEngine.Configuration) -> Void = { _ in }
    ) -> Task<LineModeClient.Ending, any Error> {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: .plaintext, reconnect: reconnect)
        configure(&configuration)
        let client = LineModeClient(configuration)
        return Task { try await client.run(input: input, output: { output.append($0) }, prompt: { output.append($0) }) }
    }

    /// Logs in as `name` through a client running against `server`, then has `bob` (a raw
    /// client) check that a typed line reaches him.
    private func expectChatWorks(_ server: PlainSpecServer, output: OutputRecorder, typing: AsyncStream<String>.Continuation, bob: TestClient) async throws {
        typing.yield("hello bob")
        let relayed = try await bob.next { $0.messages?.first?.source == "alice" }
        #expect(relayed.frame.messages?.first?.content == "hello bob")
    }

    @Test(arguments: [PlainSpecServer.Quirks.closesAfterAcceptingFeatures, .closesOnFeatures])
    func aServerThatChokesOnFeaturesGetsOnePlainLogin(quirk: PlainSpecServer.Quirks) async throws {
        try await PlainSpecServer.with(quirks: quirk) { server in
            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            // No reconnection asked for: the retry without extensions is part of logging in.
            let running = runClient(against: server, output: output, input: input) { $0.initialUsername = "alice" }
            defer { running.cancel() }
            try await output.waitFor("connecting again as a plain client")
            try await expectChatWorks(server, output: output, typing: typing, bob: bob)
            // Exactly two logins: with FEATURES, then without; no loop of reconnections.
            #expect(server.loginFrames.withLockedValue { $0 }.filter { $0.username == "alice" }.map { $0.features == nil } == [false, true])
            typing.yield("/quit")
            #expect(try await running.value == .quit)
            #expect(server.loginFrames.withLockedValue { $0 }.filter { $0.username == "alice" }.count == 2)
            await bob.close()
        }
    }

    /// A busy server answered the login slowly and says "Slow down" seconds later still: a
    /// script's input ends at once, and the client must wait for that answer (longer than its
    /// usual patience for an echo) to send the dropped line again rather than quit without it.
    @Test func aSlowServersLateSlowDownIsWaitedForAtTheEndOfInput() async throws {
        let pace = PlainSpecServer.Pace(loginDelay: .milliseconds(400), messageDelay: .seconds(3), messageBurst: 1)
        try await PlainSpecServer.with(pace: pace) { server in
            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            typing.yield("first")
            typing.yield("second")
            typing.finish()
            let running = runClient(against: server, output: output, input: input) {
                $0.initialUsername = "alice"
                $0.offersExtensions = false
            }
            // The server takes one message in all: "second" is dropped each time it is sent,
            // so the client gives it up after its tries and says so, rather than quitting as
            // though all had gone.
            let first = try await bob.next { $0.messages?.first?.source == "alice" }
            #expect(first.frame.messages?.first?.content == "first")
            guard case .incomplete(let reason) = try await running.value else {
                Issue.record("the run ended as though every line had been sent: \(output.all)")
                return
            }
            #expect(reason.contains("1 line was not sent"), "\(reason)")
            #expect(output.all.contains { $0.contains("the lines it dropped will be sent again") }, "\(output.all)")
            await bob.close()
        }
    }

    @Test func noExtensionsSendsThePlainLoginOnly() async throws {
        try await PlainSpecServer.with { server in
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input) {
                $0.initialUsername = "alice"
                $0.offersExtensions = false
            }
            defer { running.cancel() }
            try await output.waitFor("Welcome!")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
            #expect(server.loginFrames.withLockedValue { $0 }.map(\.extensions.isEmpty) == [true])
        }
    }

    @Test func usernameAcceptedAsAStringIsUnderstood() async throws {
        try await PlainSpecServer.with(quirks: .stringBooleans) { server in
            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input)
            defer { running.cancel() }
            try await output.waitFor("Username:")
            typing.yield("bob")
            try await output.waitFor("Username refused: The provided username is already in use.")
            typing.yield("alice")
            try await output.waitFor("Welcome!")
            try await expectChatWorks(server, output: output, typing: typing, bob: bob)
            typing.yield("/quit")
            #expect(try await running.value == .quit)
            // Said once, quietly; never as a problem with the data.
            #expect(output.all.filter { $0.contains("USERNAME_ACCEPTED as a string") }.count == 1)
            #expect(!output.all.contains { $0.contains("Unexpected data") })
            #expect(!output.all.contains { $0.contains("Not logged in") })
            await bob.close()
        }
    }

    @Test(arguments: [PlainSpecServer.Quirks.noDirectEcho, []])
    func ownDirectMessagesShowOnceWhetherOrNotTheServerEchoesThem(quirks: PlainSpecServer.Quirks) async throws {
        try await PlainSpecServer.with(quirks: quirks) { server in
            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input) { $0.initialUsername = "alice" }
            defer { running.cancel() }
            try await output.waitFor("Welcome!")
            typing.yield("@bob just for you")
            typing.yield("for everyone")
            #expect(try await bob.next { $0.messages?.first?.content == "for everyone" }.frame.messages?.first?.source == "alice")
            try await output.waitFor("[you → bob] just for you")
            try await output.waitFor("<alice> for everyone")
            // A marker after the echoes: once it shows, any echo has been handled.
            try await bob.say("marker", as: "bob")
            try await output.waitFor("<bob> marker")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
            #expect(output.all.filter { $0.contains("just for you") }.count == 1)
            #expect(output.all.filter { $0.contains("for everyone") }.count == 1)
            await bob.close()
        }
    }

    @Test func directMessagesBetweenOthersInHistoryNameBothSides() async throws {
        try await PlainSpecServer.with(quirks: .replaysEveryDirectMessage) { server in
            let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await bob.login("bob").usernameAccepted == true)
            let carol = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await carol.login("carol").usernameAccepted == true)
            try await bob.say("between us", as: "bob", to: "carol")
            _ = try await carol.next { $0.messages?.first?.content == "between us" }
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = runClient(against: server, output: output, input: input) { $0.initialUsername = "alice" }
            defer { running.cancel() }
            try await output.waitFor("End of earlier messages")
            #expect(output.all.contains { $0.hasSuffix("[bob → carol] between us") })
            #expect(!output.all.contains { $0.contains("→ you] between us") })
            typing.yield("/quit")
            #expect(try await running.value == .quit)
            await bob.close()
            await carol.close()
        }
    }
}
