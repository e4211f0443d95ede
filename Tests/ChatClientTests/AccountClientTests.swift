import ChatClient
import ChatProtocol
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// The client side of accounts: /Register, the password prompt for a registered name, and
/// never leaking the password to a server that does not run accounts.
@Suite struct AccountClientTests {
    private static func isWelcome(_ update: ClientUpdate) -> Bool {
        if case .event(.welcome) = update { return true }
        return false
    }

    private static func asksForSecret(_ update: ClientUpdate) -> Bool {
        if case .secretNeeded = update { return true }
        return false
    }

    private static func asksForName(_ update: ClientUpdate) -> Bool {
        if case .usernameNeeded = update { return true }
        return false
    }

    private static func secretPrompts(in recorder: UpdateRecorder) -> Int {
        recorder.all.filter(asksForSecret).count
    }

    private func startEngine(port: Int, security: ConnectionSecurity, name: String, password: String? = nil, recorder: UpdateRecorder, input: AsyncStream<String>) -> Task<ChatEngine.Ending, any Error> {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: port, security: security, initialUsername: name)
        configuration.password = password
        let engine = ChatEngine(configuration)
        return Task { try await engine.run(input: input) { recorder.append($0) } }
    }

    @Test func registersThenLogsInThroughThePasswordPrompt() async throws {
        try await TestServer.with(configure: { $0.passwordHashRounds = 2_000 }) { server in
            let observer = try await server.login("observer")
            let first = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = startEngine(port: server.port, security: server.security, name: "alice", recorder: first, input: input)
            try await first.waitFor("the login", Self.isWelcome)
            typing.yield("/Register")
            let prompt = try await first.waitFor("the password prompt", Self.asksForSecret)
            #expect(prompt == .secretNeeded(prompt: "New password for alice (an empty line cancels): "))
            typing.yield("open sesame")
            try await first.waitFor("the confirmation") {
                if case .event(.commandResult("Register", let lines, "Chatterbox", false)) = $0 { return lines.first?.hasPrefix("Registered alice") == true }
                return false
            }
            typing.finish()
            _ = try await running.value
            _ = try await observer.next { $0.usersLeft == ["alice"] }

            // A new client without the password is asked for it instead of for another name.
            let second = UpdateRecorder()
            let (input2, typing2) = AsyncStream<String>.makeStream()
            let running2 = startEngine(port: server.port, security: server.security, name: "alice", recorder: second, input: input2)
            defer { running2.cancel() }
            try await second.waitFor("the password prompt", Self.asksForSecret)
            let askedForName = second.all.contains(where: Self.asksForName)
            #expect(!askedForName)
            typing2.yield("not the one")
            try await second.waitFor("the refusal") { $0 == .event(.loginRefused("Wrong password for alice.")) }
            let recorder = second
            try await second.waitFor("a second prompt") { _ in Self.secretPrompts(in: recorder) == 2 }
            typing2.yield("open sesame")
            try await second.waitFor("the login", Self.isWelcome)
        }
    }

    @Test func aPasswordGivenUpFrontIsSentWithTheLogin() async throws {
        try await TestServer.with(configure: { $0.passwordHashRounds = 2_000 }) { server in
            let observer = try await server.login("observer")
            let bob = try await server.login("bob", features: ["commands", "accounts"])
            try await bob.say("/Register bobs secret", as: "bob", to: "Chatterbox")
            _ = try await bob.nextMessages()
            await bob.close()
            _ = try await observer.next { $0.usersLeft == ["bob"] }
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            defer { typing.finish() }
            let running = startEngine(port: server.port, security: server.security, name: "bob", password: "bobs secret", recorder: recorder, input: input)
            defer { running.cancel() }
            try await recorder.waitFor("the login", Self.isWelcome)
        }
    }

    @Test func registerIsNeverSentToAServerWithoutAccounts() {
        var session = ChatSession()
        let welcome = Frame(usernameAccepted: true, userList: ["alice"], extensions: [.init(key: "FEATURES", value: .array([.string("commands")]))])
        _ = session.receive(DecodedFrame(frame: welcome), attemptedName: "alice")
        #expect(session.serverRunsCommands && !session.serverHasAccounts)
        let actions = session.interpret("/Register my password", now: 0)
        #expect(actions == [.show(.notice("This server does not support accounts: names cannot be registered here."))])
        #expect(session.password == nil)
    }

    @Test func registerGoesToTheServerUserOnlyAndThePasswordJoinsLaterLogins() {
        var session = ChatSession()
        let welcome = Frame(usernameAccepted: true, userList: ["alice"], extensions: [
            .init(key: "FEATURES", value: .array([.string("commands"), .string("accounts")])),
            .init(key: "SERVER_USER", value: .string("Chatterbox")),
        ])
        _ = session.receive(DecodedFrame(frame: welcome), attemptedName: "alice")
        #expect(session.interpret("/Register short", now: 0).count == 1)
        #expect(session.password == nil, "a password the server would refuse is not kept")
        let actions = session.interpret("/Register long enough", now: 5)
        #expect(actions == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "Chatterbox", timestamp: 5, content: "/Register long enough")]))])
        #expect(session.loginFrame(for: "alice").extensionValue("PASSWORD") == .string("long enough"))
        session.asksForFeatures = false
        #expect(session.loginFrame(for: "alice").extensions.isEmpty, "a plain login carries no PASSWORD")
    }

    @Test func lineModeHidesThePasswordAsItIsTyped() async throws {
        try await TestServer.with(configure: { $0.passwordHashRounds = 2_000 }) { server in
            let observer = try await server.login("observer")
            let owner = try await server.login("carol", features: ["commands", "accounts"])
            try await owner.say("/Register carols secret", as: "carol", to: "Chatterbox")
            _ = try await owner.nextMessages()
            await owner.close()
            _ = try await observer.next { $0.usersLeft == ["carol"] }

            let output = OutputRecorder()
            let hidden = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let client = LineModeClient(ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: "carol"))
            let running = Task {
                try await client.run(
                    input: input, output: { output.append($0) }, prompt: { output.append($0) },
                    hideNextLine: { hidden.append("hidden") })
            }
            defer { running.cancel() }
            try await output.waitFor("Password for carol (an empty line chooses another name): ")
            #expect(hidden.all == ["hidden"], "echo goes off before the prompt")
            typing.yield("carols secret")
            try await output.waitFor("Welcome to Chatterbox, carol!")
            #expect(!output.all.contains { $0.contains("carols secret") })
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }
}
