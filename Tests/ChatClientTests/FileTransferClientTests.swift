import ChatClient
import ChatProtocol
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// /Send, /Files and /Get through the client engine against a real server.
@Suite struct FileTransferClientTests {
    private static func notice(_ update: ClientUpdate) -> String? {
        if case .event(.notice(let text)) = update { return text }
        return nil
    }

    private static func isWelcome(_ update: ClientUpdate) -> Bool {
        if case .event(.welcome) = update { return true }
        return false
    }

    private func engine(_ name: String, on server: TestServer, recorder: UpdateRecorder, input: AsyncStream<String>) -> Task<ChatEngine.Ending, any Error> {
        let engine = ChatEngine(.init(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: name))
        return Task { try await engine.run(input: input) { recorder.append($0) } }
    }

    private func waitForNotice(_ prefix: String, in recorder: UpdateRecorder) async throws -> String {
        let update = try await recorder.waitFor(prefix, timeout: .seconds(30)) { Self.notice($0)?.hasPrefix(prefix) == true }
        return Self.notice(update)!
    }

    @Test func sendsListsAndFetchesAFileResumingAPartialDownload() async throws {
        let directory = TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<(1_200_000)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let source = directory.path + "/report.bin"
        try data.write(to: URL(fileURLWithPath: source))

        try await TestServer.with { server in
            let alice = UpdateRecorder()
            let (aliceInput, aliceTyping) = AsyncStream<String>.makeStream()
            let aliceTask = engine("alice", on: server, recorder: alice, input: aliceInput)
            defer { aliceTask.cancel() }
            try await alice.waitFor("alice's login", Self.isWelcome)
            aliceTyping.yield("/Send \(source)")
            let sent = try await waitForNotice("Sent report.bin", in: alice)
            let id = try #require(sent.split(separator: " ").last.map { String($0.dropLast()) })
            #expect(id.hasPrefix("f"))

            let bob = UpdateRecorder()
            let (bobInput, bobTyping) = AsyncStream<String>.makeStream()
            let bobTask = engine("bob", on: server, recorder: bob, input: bobInput)
            defer { bobTask.cancel() }
            try await bob.waitFor("bob's login", Self.isWelcome)
            bobTyping.yield("/Files")
            _ = try await waitForNotice("Files you can fetch (1", in: bob)
            #expect(bob.all.compactMap(Self.notice).contains { $0.contains(id) && $0.contains("report.bin") && $0.contains("from alice") })

            // A download interrupted earlier left the first 300,000 bytes.
            let target = directory.path + "/copy.bin"
            try data.prefix(300_000).write(to: URL(fileURLWithPath: target + ".part"))
            bobTyping.yield("/Get \(id) \(target)")
            _ = try await waitForNotice("Resuming \(id) from byte 300000", in: bob)
            _ = try await waitForNotice("Saved report.bin", in: bob)
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == data)
            #expect(!FileManager.default.fileExists(atPath: target + ".part"))

            bobTyping.yield("/Send @nobody \(source)")
            _ = try await bob.waitFor("the refusal") {
                if case .event(.error(let text)) = $0 { return text == "File not sent: there is no user named nobody." }
                return false
            }
            aliceTyping.finish()
            bobTyping.finish()
        }
    }

    @Test func aServerWithoutFilesIsNeverSentAnything() {
        var session = ChatSession()
        var welcome = Frame(usernameAccepted: true, userList: ["alice"])
        welcome.features = ["commands"]
        _ = session.receive(DecodedFrame(frame: welcome), attemptedName: "alice")
        #expect(session.interpret("/Send ~/notes.txt", now: 0) == [.show(.notice("This server does not transfer files: /Send, /Files and /Get are not available."))])
        #expect(session.interpret("/Get f1", now: 0).count == 1)
        var withFiles = ChatSession()
        welcome.features = ["commands", "files"]
        _ = withFiles.receive(DecodedFrame(frame: welcome), attemptedName: "alice")
        #expect(withFiles.interpret("/Send @bob my notes.txt", now: 0) == [.file(.send(path: "my notes.txt", to: "bob"))])
        #expect(withFiles.interpret("/Get f12 out dir/x", now: 0) == [.file(.get(id: "f12", path: "out dir/x"))])
    }
}
