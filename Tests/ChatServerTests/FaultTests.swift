import ChatClient
import ChatProtocol
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import Testing

/// Broken disks and files, and signals: clear errors, no silent loss, clean exits.
@Suite struct FaultTests {
    @Test func corruptDatabaseIsAClearErrorAtStart() async throws {
        let directory = TemporaryDirectory()
        let garbage = Data((0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        try garbage.write(to: URL(fileURLWithPath: directory.path + "/chatterbox.sqlite"))
        let (status, output) = try await ServerProcess.runToExit(["server", "127.0.0.1", "-p", "0", "--data-dir", directory.path])
        #expect(status == 1)
        #expect(output.contains("cannot open the database") && output.contains("not a database"))
        #expect(output.contains("move it aside"))
    }

    @Test func dataDirectoryThatCannotBeCreatedIsAClearError() async throws {
        let directory = TemporaryDirectory()
        let blocker = directory.path + "/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let (status, output) = try await ServerProcess.runToExit(["server", "127.0.0.1", "-p", "0", "--data-dir", blocker])
        #expect(status == 1)
        #expect(output.contains("cannot use the data directory"))
    }

    @Test func portInUseIsAClearError() async throws {
        let directory = TemporaryDirectory()
        let first = try await ServerProcess.start(dataDirectory: directory.path + "/one")
        let (status, output) = try await ServerProcess.runToExit(
            ["server", "127.0.0.1", "-p", String(first.port), "--data-dir", directory.path + "/two"])
        #expect(status == 1)
        #expect(output.contains("cannot listen on 127.0.0.1 port \(first.port)"))
        // Nothing was made for a server that could not start.
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/two/ca.crt"))
        #expect(try await first.terminate() == 0)
    }

    @Test func fullDiskRefusesMessagesWithAnErrorAndDeliversNothing() async throws {
        // SQLite's page cap makes writes fail exactly as on a full disk (SQLITE_FULL).
        try await TestServer.with(makeStore: { try SQLiteChatStore(path: $0 + "/chatterbox.sqlite", maximumPageCount: 40) }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let text = String(repeating: "d", count: 8000)
            var stored = 0
            var refusal: String?
            for index in 0..<100 where refusal == nil {
                try await alice.say("\(index) \(text)", as: "alice", at: Int64(index))
                let frame = try await alice.next { $0.messages != nil || $0.error != nil }.frame
                if let error = frame.error { refusal = error } else { stored += 1 }
            }
            #expect(refusal?.contains("could not store") == true)
            #expect(stored > 0)
            // bob got exactly the stored ones, then nothing for the refused one: the next thing he
            // sees is the server's answer to his own command.
            var bobSaw = 0
            while bobSaw < stored { bobSaw += try await bob.nextMessages().count }
            try await bob.say("/Name", as: "bob")
            #expect(try await bob.nextMessages().first?.source == "Chatterbox")
            #expect(bobSaw == stored)
        }
    }

    @Test func sigtermSaysGoodbyeCommitsAndExitsCleanly() async throws {
        let directory = TemporaryDirectory()
        let security = ConnectionSecurity.tls(.certificateAuthorityFile(directory.path + "/ca.crt"))
        let server = try await ServerProcess.start(dataDirectory: directory.path)
        let alice = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: security)
        #expect(try await alice.login("alice").usernameAccepted == true)
        try await alice.say("last words", as: "alice")
        _ = try await alice.nextMessages()
        #expect(try await server.terminate() == 0)
        let frames = try await alice.waitForClose()
        #expect(frames.contains { $0.info?.contains("shutting down") == true })
        await alice.close()

        let restarted = try await ServerProcess.start(dataDirectory: directory.path)
        let reader = try await TestClient.connect(host: "127.0.0.1", port: restarted.port, security: security)
        #expect(try await reader.login("reader").messages?.map(\.content) == ["last words"])
        await reader.close()
        #expect(try await restarted.terminate() == 0)
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        #expect(try store.integrityCheck() == ["ok"])
        try store.close()
    }
}
