import ChatClient
import ChatProtocol
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// `--json` for bots: typed events for every answer (never a message from the server's
/// pseudo-user), file transfers as events, and the login replay left out on request.
@Suite struct JSONModeTests {
    private func runJSON(_ lines: [String], on server: TestServer, name: String = "bot", skipsLoginHistory: Bool = false) async throws -> [String] {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: name)
        configuration.echoPatience = TestTiming.scaled(.seconds(10))
        configuration.downloadDirectory = NSTemporaryDirectory()
        let output = OutputRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        for line in lines { typing.yield(line) }
        typing.finish()
        _ = try await JSONModeClient(configuration, skipsLoginHistory: skipsLoginHistory).run(input: input) { output.append($0) }
        return output.all
    }

    @Test func answersToCommandsAreTypedResultsNamingTheirCommand() async throws {
        try await TestServer.with { server in
            let output = try await runJSON(["/displayusers", "/Block", "/Help", "/Name"], on: server)
            let results = output.filter { $0.hasPrefix(#"{"event":"command_result""#) }
            #expect(results.count == 3, "\(output)")
            #expect(results.contains { $0.hasPrefix(#"{"event":"command_result","command":"DisplayUsers","from":"Chatterbox","ok":true,"text":"Online now (1): bot"#) })
            #expect(results.contains { $0.hasPrefix(#"{"event":"command_result","command":"Block","from":"Chatterbox","ok":false,"text":"Usage"#) })
            #expect(results.contains { $0.hasPrefix(#"{"event":"command_result","command":"Name","from":"Chatterbox","ok":true,"text":"You are logged in as bot."#) })
            // /Help is answered by the client itself, in notices.
            #expect(output.contains { $0.hasPrefix(#"{"event":"notice","text":"Commands"#) })
            #expect(!output.contains { $0.contains(#""event":"message","from":"Chatterbox""#) })
        }
    }

    @Test func theLoginReplayIsLeftOutOnRequest() async throws {
        try await TestServer.with { server in
            let earlier = try await server.login("earlier")
            try await earlier.say("said before the bot came", as: "earlier")
            _ = try await earlier.next { $0.messages?.contains { $0.content == "said before the bot came" } == true }
            let with = try await runJSON(["/Name"], on: server, name: "bot1")
            #expect(with.contains { $0.contains("said before the bot came") && $0.contains(#""history":true"#) })
            let without = try await runJSON(["/Name"], on: server, name: "bot2", skipsLoginHistory: true)
            #expect(!without.contains { $0.contains("said before the bot came") })
            #expect(without.contains { $0.contains(#""event":"welcome""#) })
            await earlier.close()
        }
    }

    @Test func fileTransfersAreProgressAndDoneEvents() async throws {
        let directory = TemporaryDirectory()
        let file = directory.path + "/big.bin"
        try Data(repeating: 7, count: 1_500_000).write(to: URL(fileURLWithPath: file))
        try await TestServer.with { server in
            let sent = try await runJSON(["/Send \(file)"], on: server)
            let progress = sent.filter { $0.hasPrefix(#"{"event":"file_progress","direction":"upload","name":"big.bin""#) }
            #expect(!progress.isEmpty, "\(sent)")
            let done = try #require(sent.first { $0.hasPrefix(#"{"event":"file_done","direction":"upload","name":"big.bin","id":""#) })
            #expect(done.contains(#""bytes":1500000,"size":1500000"#))
            let id = try #require(done.range(of: #""id":"([^"]+)""#, options: .regularExpression).map { String(done[$0].dropFirst(6).dropLast()) })
            let target = directory.path + "/copy.bin"
            let fetched = try await runJSON(["/Get \(id) \(target)"], on: server, name: "fetcher")
            let saved = try #require(fetched.first { $0.hasPrefix(#"{"event":"file_done","direction":"download""#) }, "\(fetched)")
            #expect(saved.contains(#""path":"\#(target)""#))
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)).count == 1_500_000)
        }
    }
}
