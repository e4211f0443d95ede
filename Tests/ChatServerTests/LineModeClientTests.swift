import ChatClient
import ChatProtocol
import Foundation
import Synchronization
import Testing

/// Collects the client's output lines and lets a test wait for one.
final class OutputRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    var all: [String] { lines.withLock { $0 } }

    /// Waits (bounded) until a line containing `text` has been printed.
    func waitFor(_ text: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if all.contains(where: { $0.contains(text) }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no line containing \"\(text)\" in:\n" + all.joined(separator: "\n"))
    }
}

@Suite struct LineModeClientTests {
    @Test func logsInChatsAndRunsCommandsAgainstChatterbox() async throws {
        let directory = TemporaryDirectory()
        let server = try await TestServer.start(dataDirectory: directory.path)
        let bob = try await server.login("bob")
        let output = OutputRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let client = LineModeClient(host: "127.0.0.1", port: server.port, security: server.security)
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
        await bob.close()
        await server.stop()
    }
}
