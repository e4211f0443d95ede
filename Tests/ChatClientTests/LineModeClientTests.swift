import ChatClient
import ChatProtocol
import Foundation
import ChatTestSupport
import Testing

@Suite struct LineModeClientTests {
    @Test func logsInChatsAndRunsCommandsAgainstChatterbox() async throws {
        try await TestServer.with { server in
            let bob = try await server.login("bob")
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let client = LineModeClient(ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: server.security))
            let running = Task { try await client.run(input: input, output: { output.append($0) }, prompt: { output.append($0) }) }
            try await output.waitFor("Username:")
            typing.yield("bob")
            try await output.waitFor("Username refused")
            typing.yield("alice")
            try await output.waitFor("Welcome to Chatterbox, alice")
            try await output.waitFor("Online (2): alice, bob")
            typing.yield("hello from the line client")
            try await output.waitFor("<alice> hello from the line client")
            #expect(try await bob.nextMessages().map(\.content) == ["hello from the line client"])
            try await bob.say("hi alice", as: "bob", to: "alice")
            try await output.waitFor("[bob → you] hi alice")
            typing.yield("/name")
            try await output.waitFor("-Chatterbox- You are logged in as alice.")
            typing.yield("/Quit")
            #expect(try await running.value == .quit)
        }
    }
}
