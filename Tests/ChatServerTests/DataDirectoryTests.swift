import ChatProtocol
import ChatStore
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import Testing

/// The data directory keeps its database: a directory that was used and lost it refuses to
/// start, the database is private to its owner, and damage anywhere in it stops the start.
/// Through the real executable, as an operator meets it.
@Suite struct DataDirectoryTests {
    private func run(_ directory: String, _ extra: [String] = []) async throws -> (status: Int32, output: String) {
        try await ServerProcess.runToExit(["server", "127.0.0.1", "-p", "0", "--data-dir", directory] + extra)
    }

    /// A server that ran once in `directory` and stopped.
    private func useOnce(_ directory: String) async throws {
        let server = try await ServerProcess.start(dataDirectory: directory)
        #expect(try await server.terminate() == 0)
        #expect(FileManager.default.fileExists(atPath: directory + "/chatterbox.initialised"))
    }

    @Test func aDirectoryThatLostItsDatabaseRefusesToStartUntilInit() async throws {
        let directory = TemporaryDirectory()
        try await useOnce(directory.path)
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: directory.path + "/chatterbox.sqlite" + suffix)
        }
        let (status, output) = try await run(directory.path)
        #expect(status == 1)
        #expect(output.contains("was used by a server before"))
        #expect(output.contains("has no database"))
        #expect(output.contains("--init"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/chatterbox.sqlite"), "nothing was created")

        // An empty file is no database either: SQLite would take it for a new one.
        _ = FileManager.default.createFile(atPath: directory.path + "/chatterbox.sqlite", contents: Data())
        let (emptyStatus, emptyOutput) = try await run(directory.path)
        #expect(emptyStatus == 1)
        #expect(emptyOutput.contains("has an empty database"))

        // On purpose: --init starts empty, and later starts need nothing more.
        let started = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--init"])
        #expect(try await started.terminate() == 0)
        let again = try await ServerProcess.start(dataDirectory: directory.path)
        #expect(try await again.terminate() == 0)
    }

    @Test func certificatesAloneShowTheDirectoryWasUsed() async throws {
        // A directory from before the marker existed: certificates, no marker.
        let directory = TemporaryDirectory()
        try await useOnce(directory.path)
        for name in ["chatterbox.initialised", "chatterbox.sqlite", "chatterbox.sqlite-wal", "chatterbox.sqlite-shm",
                     "chatterbox.sqlite-search", "chatterbox.sqlite-search-wal", "chatterbox.sqlite-search-shm"] {
            try? FileManager.default.removeItem(atPath: directory.path + "/" + name)
        }
        let (status, output) = try await run(directory.path)
        #expect(status == 1)
        #expect(output.contains("ca.crt"))
    }

    @Test func aNewDirectoryStartsWithoutInit() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path + "/new")
        #expect(try await server.terminate() == 0)
    }

    @Test func theDatabaseAndItsCompanionsAreReadableByTheOwnerOnly() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        try store.apply([.user(KnownUser(name: "alice", deliveredThrough: 0))])
        for file in [path, path + "-wal", path + "-shm", path + "-search"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            let mode = try #require((attributes[.posixPermissions] as? NSNumber)?.intValue)
            #expect(mode & 0o077 == 0, "\(file) has mode \(String(mode, radix: 8))")
        }
    }

    @Test func damageInTheMiddleOfTheDatabaseStopsTheStart() async throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        let store = try SQLiteChatStore(path: path)
        let text = String(repeating: "history ", count: 60)
        for batch in 0..<20 {
            try store.apply((0..<150).map { index in
                let sequence = Int64(batch * 150 + index + 1)
                return .message(StoredMessage(sequence: sequence, message: ChatMessage(source: "alice", destination: "ALL", timestamp: sequence, content: text)))
            })
        }
        try store.close()
        // Everything is in the database file itself (the log is folded in at close).
        let log = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber
        #expect(log == nil || log?.intValue == 0)

        // A page in the middle, far from anything read at start, overwritten with garbage.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        let pageSize: UInt64 = 4096
        let middle = (size / pageSize / 2) * pageSize
        try handle.seek(toOffset: middle)
        try handle.write(contentsOf: Data((0..<Int(pageSize)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }))
        try handle.close()

        let (status, output) = try await run(directory.path)
        #expect(status == 1)
        #expect(output.contains("is damaged"))
        #expect(output.contains("Nothing was changed"))
        #expect(output.contains("--init"))
    }
}
