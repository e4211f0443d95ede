import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// The client engine against real servers on loopback: logging in, losing the server,
/// reconnecting on the same port, and what happens to the lines typed meanwhile.
@Suite struct ChatEngineTests {
    /// Waits a minute before reconnecting, so that a test acts first and then says /Reconnect.
    static let slowReconnect = ReconnectPolicy(initialDelay: .seconds(60), maximumDelay: .seconds(60), jitter: 0)
    static let quickReconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), jitter: 0)

    private func startEngine(
        port: Int, security: ConnectionSecurity, name: String?, reconnect: ReconnectPolicy,
        recorder: UpdateRecorder, input: AsyncStream<String>, configure: (inout ChatEngine.Configuration) -> Void = { _ in }
    ) -> Task<ChatEngine.Ending, any Error> {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: port, security: security, initialUsername: name, reconnect: reconnect)
        configure(&configuration)
        let engine = ChatEngine(configuration)
        return Task { try await engine.run(input: input) { recorder.append($0) } }
    }

    /// Runs `body` with a server started again on `port` over `directory`, stopping it
    /// afterwards. The port can stay held for a moment after the last server stopped: binding
    /// is tried again for a few seconds.
    private func withServerRestarted<Result>(on port: Int, in directory: String, _ body: (TestServer) async throws -> Result) async throws -> Result {
        var attempts = 0
        let server: TestServer
        while true {
            do {
                server = try await TestServer.start(dataDirectory: directory) { $0.port = port }
                break
            } catch where "\(error)".contains("Address already in use") && attempts < 50 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return try await withTeardown { try await body(server) } teardown: { await server.stop() }
    }

    private static func isWelcome(_ update: ClientUpdate) -> Bool {
        if case .event(.welcome) = update { return true }
        return false
    }

    @Test func reconnectsLogsInAgainAndSendsWhatWasTypedMeanwhile() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await TestServer.start(dataDirectory: directory.path) { $0.port = port }
        let recorder = UpdateRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let running = startEngine(port: port, security: first.security, name: "alice", reconnect: Self.quickReconnect, recorder: recorder, input: input)
        defer { running.cancel() }
        try await recorder.waitFor("the login", Self.isWelcome)
        typing.yield("before the restart")
        try await recorder.waitFor("the echo") {
            if case .event(.message(let message)) = $0 { return message.content == "before the restart" }
            return false
        }

        await first.stop()
        try await recorder.waitFor("the loss") {
            if case .connection(.lost(_, let retry)) = $0 { return retry != nil }
            return false
        }
        typing.yield("typed while away")
        try await recorder.waitFor("the line queued") { $0 == .connection(.queued(waiting: 1)) }

        try await withServerRestarted(on: port, in: directory.path) { second in
            try await recorder.waitFor("being back") {
                if case .connection(.backOnline(let name, _, let sent, _)) = $0 { return name == "alice" && sent == 1 }
                return false
            }
            // The server's echo: the line was relayed and stored.
            try await recorder.waitFor("the echo of the queued line") {
                if case .event(.message(let message)) = $0 { return message.content == "typed while away" && message.source == "alice" }
                return false
            }
            let reader = try await second.connect()
            let history = try await reader.login("reader").messages ?? []
            #expect(history.contains { $0.source == "alice" && $0.content == "typed while away" })
            // The history replayed at the re-login showed nothing twice.
            let shown = recorder.all.compactMap { update -> String? in
                if case .event(.message(let message)) = update { return message.content }
                if case .event(.history(let messages)) = update { return messages.map(\.content).joined(separator: ",") }
                return nil
            }
            #expect(shown.filter { $0.contains("before the restart") }.count == 1, "\(shown)")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func aNameTakenWhileAwayIsAskedForAgain() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await TestServer.start(dataDirectory: directory.path) { $0.port = port }
        let recorder = UpdateRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        // The name is tried again for a while (it may be held by the connection just lost),
        // then the user is asked.
        let running = startEngine(port: port, security: first.security, name: "alice", reconnect: Self.slowReconnect, recorder: recorder, input: input) {
            $0.heldNamePatience = .seconds(2)
        }
        defer { running.cancel() }
        try await recorder.waitFor("the login", Self.isWelcome)
        await first.stop()
        try await recorder.waitFor("the loss") {
            if case .connection(.lost) = $0 { return true }
            return false
        }
        try await withServerRestarted(on: port, in: directory.path) { second in
            // Someone takes the name while the client waits; then it is told to try now.
            let taker = try await second.connect()
            _ = try await taker.login("alice")
            typing.yield("/reconnect")
            try await recorder.waitFor("the name tried again") {
                if case .event(.notice(let text)) = $0 { return text.contains("alice is still online from the connection that was lost") }
                return false
            }
            let asked = try await recorder.waitFor("the question") {
                if case .usernameNeeded(let reason?) = $0 { return reason.contains("someone else has that name") }
                return false
            }
            #expect(asked == .usernameNeeded(reason: "Could not log in again as alice: someone else has that name now. Choose another name."))
            typing.yield("alice2")
            try await recorder.waitFor("the login as alice2") {
                if case .status(let status) = $0 { return status.username == "alice2" && status.isOnline }
                return false
            }
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    /// After a lost connection, the name may still be online from it for a moment (a cluster's
    /// node that died holds its users until its lease runs out): the client waits that out and
    /// logs in again under its own name, without asking for another.
    @Test func aNameStillHeldByTheLostConnectionIsWaitedFor() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await TestServer.start(dataDirectory: directory.path) { $0.port = port }
        let recorder = UpdateRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let running = startEngine(port: port, security: first.security, name: "alice", reconnect: Self.slowReconnect, recorder: recorder, input: input)
        defer { running.cancel() }
        try await recorder.waitFor("the login", Self.isWelcome)
        await first.stop()
        try await recorder.waitFor("the loss") {
            if case .connection(.lost) = $0 { return true }
            return false
        }
        try await withServerRestarted(on: port, in: directory.path) { second in
            // The ghost: the name online from elsewhere, gone once the client has been refused.
            let ghost = try await second.connect()
            _ = try await ghost.login("alice")
            typing.yield("/reconnect")
            try await recorder.waitFor("the name tried again") {
                if case .event(.notice(let text)) = $0 { return text.contains("alice is still online from the connection that was lost") }
                return false
            }
            await ghost.close()
            try await recorder.waitFor("the login as alice again") {
                if case .status(let status) = $0 { return status.username == "alice" && status.isOnline }
                return false
            }
            let askedForAName = recorder.all.contains(where: Self.asksForAName)
            #expect(!askedForAName)
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    private static func asksForAName(_ update: ClientUpdate) -> Bool {
        if case .usernameNeeded = update { return true }
        return false
    }

    @Test func theFirstConnectionFailingIsAnError() async throws {
        // A free port outside the range other tests' servers get (port 0): nobody listens.
        let port = try RestartablePort.pick()
        let engine = ChatEngine(.init(host: "127.0.0.1", port: port, security: .plaintext, initialUsername: "x", reconnect: .standard))
        let (input, _) = AsyncStream<String>.makeStream()
        await #expect(throws: ConnectionError.self) {
            _ = try await engine.run(input: input) { _ in }
        }
    }

    @Test func linesTypedBeforeTheLoginAreSentAfterIt() async throws {
        try await TestServer.with { server in
            let bob = try await server.login("bob")
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            // The name, then a message, then the end of input — all before the connection is up.
            typing.yield("carol")
            typing.yield("hello from a pipe")
            typing.finish()
            let ending = try await startEngine(port: server.port, security: server.security, name: nil, reconnect: .never, recorder: recorder, input: input).value
            #expect(ending == .quit)
            let relayed = try await bob.next { $0.messages?.isEmpty == false }
            #expect(relayed.frame.messages?.first == ChatMessage(source: "carol", destination: "ALL", timestamp: relayed.frame.messages?.first?.timestamp ?? 0, content: "hello from a pipe"))
        }
    }

    @Test func theBackoffDoublesUpToItsCap() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(500), maximumDelay: .seconds(30), jitter: 0.2)
        #expect((1...8).map { policy.delay(beforeAttempt: $0) } == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
        ])
        #expect(policy.delay(beforeAttempt: 1000) == .seconds(30))
        #expect(policy.jitteredDelay(beforeAttempt: 2, random: 0) == .seconds(1))
        #expect(policy.jitteredDelay(beforeAttempt: 2, random: 1) == .milliseconds(800))
        #expect(!ReconnectPolicy.never.isEnabled)
    }
}
