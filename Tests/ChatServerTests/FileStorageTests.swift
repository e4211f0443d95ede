import ChatProtocol
import ChatServer
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import NIOCore
import Testing

/// The disk behind feature `files` stays bounded: a quota for everyone together, a floor of
/// free space below which uploads stop and chat goes on, unfinished uploads cleared at start
/// and when idle, stored files expiring.
@Suite struct FileStorageTests {
    typealias Steps = FileUploadSteps

    @Test func aQuotaForEveryoneTogetherBoundsTheFilesOfManyNames() async throws {
        try await TestServer.with(configure: {
            $0.fileQuotaPerUser = 100_000
            $0.fileQuotaTotal = 150_000
        }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            try await Steps.upload(Steps.bytes(90_000), name: "a.bin", by: alice)
            // Within bob's own quota, beyond everyone's.
            let refused = try await Steps.offer(Steps.bytes(70_000, seed: 2), name: "b.bin", by: bob)
            guard case .failure(let error) = refused else { throw TestFailure("accepted beyond the total quota") }
            #expect(error.description.contains("File b.bin not accepted: the server's space for files is full (90000 of 150000 bytes in use)"))
            // What fits is still taken, and chat goes on.
            try await Steps.upload(Steps.bytes(50_000, seed: 3), name: "c.bin", by: bob)
            try await bob.say("still here", as: "bob")
            #expect(try await alice.next { $0.messages?.contains { $0.content == "still here" } == true }.frame.messages != nil)
        }
    }

    @Test func belowTheFreeSpaceFloorUploadsAreRefusedAndChatGoesOn() async throws {
        // A floor no disk can meet: every upload is below it.
        try await TestServer.with(configure: { $0.minimumFreeDiskBytes = Int64.max / 4 }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let refused = try await Steps.offer(Steps.bytes(10), name: "tiny.txt", by: alice)
            guard case .failure(let error) = refused else { throw TestFailure("accepted below the free-space floor") }
            #expect(error.description.contains("File tiny.txt not accepted: the server is short of disk space"))
            try await alice.say("chat still works", as: "alice", to: "bob")
            #expect(try await bob.nextMessages().map(\.content) == ["chat still works"])
        }
    }

    @Test func partialFilesOfAnEarlierRunAreRemovedAtStart() async throws {
        let directory = TemporaryDirectory()
        let files = directory.path + "/files"
        let data = Steps.bytes(FileTransfer.chunkSize * 2 + 10)
        let kept = try await TestServer.with(dataDirectory: directory.path) { server in
            let alice = try await server.login("alice")
            let partial = try await Steps.upload(data, name: "half.bin", by: alice, stopAfter: 1)
            #expect(FileManager.default.fileExists(atPath: files + "/\(partial.id).part"))
            return try await Steps.upload(Steps.bytes(100, seed: 4), name: "whole.txt", by: alice).id
        }
        // A finished file whose record a crash lost, and a file that is not the server's.
        _ = FileManager.default.createFile(atPath: files + "/f123abc", contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: files + "/README.txt", contents: Data("mine".utf8))

        try await TestServer.with(dataDirectory: directory.path) { _ in
            let left = try FileManager.default.contentsOfDirectory(atPath: files).sorted()
            #expect(left == ["README.txt", kept].sorted())
        }
    }

    @Test func anIdleUploadIsAbandonedAndItsPartialFileRemoved() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.clock = clock.serverClock
            $0.uploadIdleTimeout = .minutes(10)
        }) { server in
            let alice = try await server.login("alice")
            let data = Steps.bytes(FileTransfer.chunkSize * 3)
            let slow = try await Steps.upload(data, name: "slow.bin", by: alice, stopAfter: 1)
            let busy = try await Steps.upload(Steps.bytes(FileTransfer.chunkSize * 3, seed: 8), name: "busy.bin", by: alice, stopAfter: 1)
            let part = server.dataDirectory + "/files/\(slow.id).part"

            clock.advance(by: .minutes(6))
            // The busy one goes on; the slow one has now been quiet for six minutes.
            _ = try await Steps.sendChunk(of: Steps.bytes(FileTransfer.chunkSize * 3, seed: 8), for: busy, by: alice)
            #expect(await server.server.performHousekeeping()?.abandonedUploads == 0)
            clock.advance(by: .minutes(5))
            #expect(await server.server.performHousekeeping()?.abandonedUploads == 1)
            #expect(!FileManager.default.fileExists(atPath: part))
            #expect(FileManager.default.fileExists(atPath: server.dataDirectory + "/files/\(busy.id).part"))
            // The abandoned upload is gone: its next chunk is refused.
            do {
                _ = try await Steps.sendChunk(of: data, for: slow, by: alice)
                Issue.record("a chunk of an abandoned upload was taken")
            } catch let failure as TestFailure {
                #expect(failure.description.contains("There is no upload \(slow.id) of yours under way"))
            }
        }
    }

    @Test func storedFilesExpireAfterTheirLifetimeAlsoAcrossARestart() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let configure: (inout ServerConfiguration) -> Void = {
            $0.clock = clock.serverClock
            $0.fileLifetime = .hours(24 * 30)
        }
        let id = try await TestServer.with(dataDirectory: directory.path, configure: configure) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let id = try await Steps.upload(Steps.bytes(1000), name: "old.txt", by: alice).id
            clock.advance(by: .hours(24 * 29))
            #expect(await server.server.performHousekeeping()?.expiredFiles == 0)
            #expect(try await Steps.files(visibleTo: bob).map(\.id) == [id])
            clock.advance(by: .hours(24 * 2))
            #expect(await server.server.performHousekeeping()?.expiredFiles == 1)
            #expect(try await Steps.files(visibleTo: bob).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: server.dataDirectory + "/files/\(id)"))
            try await Steps.request(FileTransfer.Key.get, FileTransfer.Get(id: id, offset: 0).jsonValue, by: bob)
            #expect(try await bob.nextError().contains("There is no file \(id) for you"))
            return id
        }
        // Its record went with it: nothing comes back after a restart.
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        #expect(try store.load().files.map(\.id).contains(id) == false)
    }
}
