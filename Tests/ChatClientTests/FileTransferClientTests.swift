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
        if case .event(.fileTransfer(let news)) = update { return news.text }
        return nil
    }

    private static func isWelcome(_ update: ClientUpdate) -> Bool {
        if case .event(.welcome) = update { return true }
        return false
    }

    private func engine(
        _ name: String, on server: TestServer, recorder: UpdateRecorder, input: AsyncStream<String>,
        downloadDirectory: String? = nil, reconnect: ReconnectPolicy = .never
    ) -> Task<ChatEngine.Ending, any Error> {
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: name, reconnect: reconnect)
        configuration.downloadDirectory = downloadDirectory
        let engine = ChatEngine(configuration)
        return Task { try await engine.run(input: input) { recorder.append($0) } }
    }

    /// Has alice send `file`, returns its id.
    private func sendAsAlice(_ file: String, on server: TestServer, typing: AsyncStream<String>.Continuation, recorder: UpdateRecorder) async throws -> String {
        try await recorder.waitFor("alice's login", Self.isWelcome)
        typing.yield("/Send \(file)")
        let name = (file as NSString).lastPathComponent
        let sent = try await waitForNotice("Sent \(name)", in: recorder)
        return try #require(sent.split(separator: " ").last.map { String($0.dropLast()) })
    }

    @Test func getNeverReplacesWhatIsThereUnlessForced() async throws {
        let directory = TemporaryDirectory()
        let outbox = directory.path + "/outbox"
        let downloads = directory.path + "/downloads"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
        // bob's download directory holds a Documents/ tree and a notes.txt of his own.
        try FileManager.default.createDirectory(atPath: downloads + "/Documents", withIntermediateDirectories: true)
        try Data("bob's precious".utf8).write(to: URL(fileURLWithPath: downloads + "/Documents/precious.txt"))
        try Data("bob's notes".utf8).write(to: URL(fileURLWithPath: downloads + "/notes.txt"))
        try FileManager.default.createDirectory(atPath: downloads + "/into", withIntermediateDirectories: true)
        try Data("offered as Documents".utf8).write(to: URL(fileURLWithPath: outbox + "/Documents"))
        try Data("offered as notes".utf8).write(to: URL(fileURLWithPath: outbox + "/notes.txt"))
        func contents(_ path: String) -> String? {
            (try? Data(contentsOf: URL(fileURLWithPath: downloads + "/" + path))).map { String(decoding: $0, as: UTF8.self) }
        }

        try await TestServer.with { server in
            let alice = UpdateRecorder()
            let (aliceInput, aliceTyping) = AsyncStream<String>.makeStream()
            let aliceTask = engine("alice", on: server, recorder: alice, input: aliceInput)
            defer { aliceTask.cancel() }
            let documents = try await sendAsAlice(outbox + "/Documents", on: server, typing: aliceTyping, recorder: alice)
            let notes = try await sendAsAlice(outbox + "/notes.txt", on: server, typing: aliceTyping, recorder: alice)

            let bob = UpdateRecorder()
            let (bobInput, bobTyping) = AsyncStream<String>.makeStream()
            let bobTask = engine("bob", on: server, recorder: bob, input: bobInput, downloadDirectory: downloads)
            defer { bobTask.cancel() }
            try await bob.waitFor("bob's login", Self.isWelcome)

            // No path: the download directory, beside the Documents/ tree, which stays.
            bobTyping.yield("/Get \(documents)")
            #expect(try await waitForNotice("Saved Documents", in: bob).hasSuffix("to \(downloads)/Documents (1)."))
            #expect(contents("Documents (1)") == "offered as Documents")
            #expect(contents("Documents/precious.txt") == "bob's precious")

            // A path that is a file: beside it.
            bobTyping.yield("/Get \(notes) \(downloads)/notes.txt")
            #expect(try await waitForNotice("Saved notes.txt", in: bob).hasSuffix("to \(downloads)/notes (1).txt."))
            #expect(contents("notes.txt") == "bob's notes")
            #expect(contents("notes (1).txt") == "offered as notes")

            // A directory, with or without its slash: into it, under the sender's name.
            bobTyping.yield("/Get \(notes) \(downloads)/into/")
            _ = try await bob.waitFor("the save into into/") { Self.notice($0)?.hasSuffix("to \(downloads)/into/notes.txt.") == true }
            bobTyping.yield("/Get \(documents) \(downloads)/Documents")
            _ = try await bob.waitFor("the save into Documents/") { Self.notice($0)?.hasSuffix("to \(downloads)/Documents/Documents.") == true }
            #expect(contents("Documents/precious.txt") == "bob's precious")
            #expect(contents("Documents/Documents") == "offered as Documents")

            // --force replaces a file (never a directory).
            bobTyping.yield("/Get \(notes) \(downloads)/notes.txt --force")
            _ = try await bob.waitFor("the forced save") { Self.notice($0)?.hasSuffix("to \(downloads)/notes.txt.") == true }
            #expect(contents("notes.txt") == "offered as notes")
            #expect(!FileManager.default.fileExists(atPath: downloads + "/notes.txt.part"))
            aliceTyping.finish()
            bobTyping.finish()
        }
    }

    @Test func aRefusedGetEndsAndIsNotAskedAgainAfterAReconnection() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await TestServer.start(dataDirectory: directory.path) { $0.port = port }
        let bob = UpdateRecorder()
        let (input, typing) = AsyncStream<String>.makeStream()
        let quick = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), jitter: 0)
        let running = engine("bob", on: first, recorder: bob, input: input, downloadDirectory: directory.path, reconnect: quick)
        defer { running.cancel() }
        try await bob.waitFor("bob's login", timeout: .seconds(30), Self.isWelcome)
        typing.yield("/Get f0123456789")
        _ = try await waitForNotice("Fetching f0123456789 stopped", in: bob)
        await first.stop()
        try await bob.waitFor("the loss") {
            if case .connection(.lost) = $0 { return true }
            return false
        }
        var attempts = 0
        var second: TestServer?
        while second == nil {
            do {
                second = try await TestServer.start(dataDirectory: directory.path) { $0.port = port }
            } catch where "\(error)".contains("Address already in use") && attempts < 50 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let server = try #require(second)
        try await bob.waitFor("being back", timeout: .seconds(30)) {
            if case .connection(.backOnline) = $0 { return true }
            return false
        }
        // A line after the reconnection; once its echo is back, a GET sent at the re-login
        // would have been answered before it.
        typing.yield("marker")
        try await bob.waitFor("the marker's echo", timeout: .seconds(30)) {
            if case .event(.message(let message)) = $0 { return message.content == "marker" }
            return false
        }
        let refusals = bob.all.filter {
            if case .event(.error(let text)) = $0 { return text.contains("f0123456789") }
            return false
        }
        #expect(refusals.count == 1)
        typing.finish()
        _ = try? await running.value
        await server.stop()
    }

    @Test func sentNamesAreMadeSafeAndNumberedWhenTaken() throws {
        #expect(DownloadDestination.safeName("../../.bashrc", fallback: "f1") == "bashrc")
        #expect(DownloadDestination.safeName("a\u{1B}[2Jb.txt", fallback: "f1") == "a_[2Jb.txt")
        #expect(DownloadDestination.safeName("..", fallback: "f1") == "f1")
        #expect(DownloadDestination.safeName("dir\\name.txt", fallback: "f1") == "name.txt")
        let directory = TemporaryDirectory()
        #expect(DownloadDestination.unused(in: directory.path, name: "a.txt") == directory.path + "/a.txt")
        try Data().write(to: URL(fileURLWithPath: directory.path + "/a.txt"))
        try Data().write(to: URL(fileURLWithPath: directory.path + "/a (1).txt"))
        #expect(DownloadDestination.unused(in: directory.path, name: "a.txt") == directory.path + "/a (2).txt")
        try FileManager.default.createDirectory(atPath: directory.path + "/README", withIntermediateDirectories: false)
        #expect(DownloadDestination.unused(in: directory.path, name: "README") == directory.path + "/README (1)")
        // A dangling symbolic link is something too.
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link", withDestinationPath: "/nonexistent/target")
        #expect(DownloadDestination.unused(in: directory.path, name: "link") == directory.path + "/link (1)")
    }

    private func waitForNotice(_ prefix: String, in recorder: UpdateRecorder) async throws -> String {
        let update = try await recorder.waitFor(prefix, timeout: .seconds(30)) { Self.notice($0)?.hasPrefix(prefix) == true }
        return Self.notice(update)!
    }

    @Test func sendsListsAndFetchesAFileResumingAPartialDownload() async throws {
        let directory = TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        // Eight random bytes a call: one call a byte took over 2 s of a cooperative thread.
        var data = Data(count: 1_200_000)
        data.withUnsafeMutableBytes { raw in
            for index in 0..<(raw.count / 8) { raw.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self) }
        }
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
        #expect(withFiles.interpret("/Get f12 out dir/x", now: 0) == [.file(.get(id: "f12", path: "out dir/x", force: false))])
        #expect(withFiles.interpret("/Get f12 out dir/x --force", now: 0) == [.file(.get(id: "f12", path: "out dir/x", force: true))])
        #expect(withFiles.interpret("/Get f12", now: 0) == [.file(.get(id: "f12", path: nil, force: false))])
    }
}
