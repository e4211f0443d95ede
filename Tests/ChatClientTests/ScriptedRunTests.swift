import ChatClient
import ChatProtocol
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Input from a pipe or a script: lines arrive all at once, and the input ends while work is
/// still under way. Nothing typed may be lost to the server's flood control, and the client
/// finishes what it started before it stops, or says what it could not do.
@Suite struct ScriptedRunTests {
    /// The server's defaults: 10 messages per second, bursts of 20.
    private static func defaultRate(_ configuration: inout ServerConfiguration) {
        configuration.limits.messagesPerSecond = 10
        configuration.limits.messageBurst = 20
    }

    /// Runs a JSON-mode client with `lines` as its whole input; its output and ending.
    private func runJSON(
        _ lines: [String], on server: TestServer, name: String = "bot",
        configure: (inout ChatEngine.Configuration) -> Void = { _ in }
    ) async throws -> (output: OutputRecorder, ending: ChatEngine.Ending) {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: name)
        // A server slowed by a loaded machine may take seconds to echo or to say "Slow down";
        // the client must not take that silence for a server that does not echo.
        configuration.echoPatience = TestTiming.scaled(.seconds(10))
        configure(&configuration)
        let output = OutputRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        for line in lines { typing.yield(line) }
        typing.finish()
        let ending = try await JSONModeClient(configuration).run(input: input) { output.append($0) }
        return (output, ending)
    }

    /// Collects the contents of messages from `name` until `count` have come.
    private func contents(from name: String, count: Int, reader: TestClient) async throws -> [String] {
        var received: [String] = []
        while received.count < count {
            received += try await reader.nextMessages().filter { $0.source == name }.map(\.content)
        }
        return received
    }

    @Test func thirtyPipedLinesAllReachAServerThatAllowsTenPerSecond() async throws {
        try await TestServer.with(configure: Self.defaultRate) { server in
            let reader = try await server.login("reader")
            let lines = (1...30).map { "line \($0)" }
            let (output, ending) = try await runJSON(lines, on: server)
            #expect(ending == .quit)
            #expect(try await contents(from: "bot", count: 30, reader: reader).sorted() == lines.sorted())
            #expect(!output.all.contains { $0.contains("Slow down") })
            #expect(output.all.last == #"{"event":"bye"}"#)
        }
    }

    @Test func linesDroppedByAStricterServerAreSentAgain() async throws {
        // The client does not ask for extensions, so it learns no rate and assumes 10/s; the
        // server allows 2/s in bursts of 5 and drops the rest with "Slow down".
        try await TestServer.with(configure: {
            $0.limits.messagesPerSecond = 2
            $0.limits.messageBurst = 5
        }) { server in
            let reader = try await server.login("reader")
            let lines = (1...12).map { "line \($0)" }
            let (output, ending) = try await runJSON(lines, on: server) { $0.offersExtensions = false }
            #expect(ending == .quit, "\(output.all)")
            #expect(try await contents(from: "bot", count: 12, reader: reader).sorted() == lines.sorted())
            #expect(output.all.contains { $0.contains("the lines it dropped will be sent again") })
        }
    }

    @Test func linesTypedWhileDisconnectedAreAllSentAndReportedWhenTheyHaveGone() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await TestServer.start(dataDirectory: directory.path) {
            $0.port = port
            Self.defaultRate(&$0)
        }
        let recorder = UpdateRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let quick = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), jitter: 0)
        let engine = ChatEngine(.init(host: "127.0.0.1", port: port, security: first.security, initialUsername: "alice", reconnect: quick))
        let running = Task { try await engine.run(input: input) { recorder.append($0) } }
        defer { running.cancel() }
        try await recorder.waitFor("the login", timeout: .seconds(30)) {
            if case .event(.welcome) = $0 { return true }
            return false
        }
        await first.stop()
        try await recorder.waitFor("the loss") {
            if case .connection(.lost) = $0 { return true }
            return false
        }
        let lines = (1...35).map { "away \($0)" }
        for line in lines { typing.yield(line) }
        try await recorder.waitFor("35 lines queued") { $0 == .connection(.queued(waiting: 35)) }
        var attempts = 0
        var restarted: TestServer?
        while restarted == nil {
            do {
                restarted = try await TestServer.start(dataDirectory: directory.path) {
                    $0.port = port
                    Self.defaultRate(&$0)
                }
            } catch where "\(error)".contains("Address already in use") && attempts < 50 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let second = try #require(restarted)
        try await recorder.waitFor("being back, sending", timeout: .seconds(30)) {
            if case .connection(.backOnline(_, _, let sending, _)) = $0 { return sending == 35 }
            return false
        }
        try await recorder.waitFor("the report that all went", timeout: .seconds(30)) { $0 == .connection(.queuedLinesSent(sent: 35, notSent: 0)) }
        let reader = try await second.connect()
        let history = try await reader.login("reader").messages ?? []
        // All of them; in order unless the server dropped one under load, which goes again.
        #expect(history.filter { $0.source == "alice" }.map(\.content).sorted() == lines.sorted())
        #expect(!recorder.all.contains {
            if case .event(.error(let text)) = $0 { return text.contains("Slow down") }
            return false
        })
        typing.finish()
        #expect(try await running.value == .quit)
        await second.stop()
    }

    @Test func theEndOfInputWaitsForAnUploadAndForCommandAnswers() async throws {
        let directory = TemporaryDirectory()
        let file = directory.path + "/big.bin"
        try Data(repeating: 7, count: 1_500_000).write(to: URL(fileURLWithPath: file))
        try await TestServer.with { server in
            let (output, ending) = try await runJSON(["/Send \(file)", "/DisplayUsers"], on: server)
            #expect(ending == .quit)
            #expect(output.all.contains { $0.contains("Sent big.bin") })
            // The server's answer to /DisplayUsers, from its pseudo-user.
            #expect(output.all.contains { $0.contains(#""from":"Chatterbox""#) })
            let reader = try await server.login("reader", features: ["files"])
            try await reader.send({ var frame = Frame(); frame.extensions = [.init(key: "FILES", value: .object(JSONObject()))]; return frame }())
            let list = try await reader.next { $0.extensionValue("FILES") != nil }
            #expect(list.frame.extensionValue("FILES")?.arrayValue?.count == 1)
        }
    }

    @Test func whatFailsOrIsLeftUndoneEndsTheRunAsIncomplete() async throws {
        let directory = TemporaryDirectory()
        let file = directory.path + "/big.bin"
        try Data(repeating: 7, count: 4_000_000).write(to: URL(fileURLWithPath: file))
        try await TestServer.with { server in
            // A file that cannot be read, and a message to nobody: both reported.
            let failed = try await runJSON(["/Send \(directory.path)/missing.bin", "@nobody hello?"], on: server)
            guard case .incomplete(let text) = failed.ending else {
                Issue.record("expected an incomplete run, got \(failed.ending)")
                return
            }
            #expect(text.contains("1 file transfer failed") && text.contains("the server reported 1 error"), "\(text)")
            #expect(failed.output.all.contains { $0.hasPrefix(#"{"event":"incomplete""#) })
            // An upload that cannot finish within --linger.
            let cut = try await runJSON(["/Send \(file)"], on: server, name: "bot2") { $0.linger = .milliseconds(1) }
            guard case .incomplete(let left) = cut.ending else {
                Issue.record("expected an incomplete run, got \(cut.ending)")
                return
            }
            #expect(left.contains("Stopped waiting after"), "\(left)")
        }
    }

    @Test func aScriptedRunSaysNothingAboutLinesWaitingForTheFirstLogin() async throws {
        try await TestServer.with { server in
            let (output, ending) = try await runJSON(["first", "second"], on: server)
            #expect(ending == .quit)
            #expect(!output.all.contains { $0.contains("queued") || $0.contains("Not logged in") })
        }
    }

    @Test func theLoginAnswerAdvertisesTheRateOnlyToClientsThatAskForFeatures() async throws {
        try await TestServer.with(configure: Self.defaultRate) { server in
            let modern = try await server.connect()
            let accepted = try await modern.login("modern", features: ["commands"])
            #expect(accepted.extensionValue(Frame.Key.limits).flatMap(MessageRate.init) == MessageRate(perSecond: 10, burst: 20))
            let plain = try await server.connect()
            #expect(try await plain.login("plain").extensionValue(Frame.Key.limits) == nil)
        }
    }
}
