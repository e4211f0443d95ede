import ChatProtocol
import ChatServer
import ChatTestSupport
import Crypto
import Foundation
import Testing

/// Feature `files` over real TLS: chunked uploads with SHA-256, storage, limits, resuming,
/// blocks, offline recipients, and chat flowing meanwhile.
@Suite struct FileTransferTests {
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        var state = UInt32(seed) | 1
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12_345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }

    private func request(_ key: String, _ value: JSONValue, by client: TestClient) async throws {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        try await client.send(frame)
    }

    private func status(of client: TestClient) async throws -> FileTransfer.UploadStatus {
        let frame = try await client.next { $0.extensionValue(FileTransfer.Key.upload) != nil || $0.error != nil }.frame
        if let error = frame.error { throw TestFailure("ERROR: \(error)") }
        return try #require(frame.extensionValue(FileTransfer.Key.upload).flatMap(FileTransfer.UploadStatus.init))
    }

    /// Offers `data` and sends chunks until the server says done (or `stopAfter` chunks).
    @discardableResult
    private func upload(_ data: [UInt8], name: String, to destination: String = "ALL", by client: TestClient, stopAfter: Int? = nil) async throws -> FileTransfer.UploadStatus {
        let offer = FileTransfer.Offer(name: name, size: Int64(data.count), sha256: Self.sha256(data), to: destination)
        try await request(FileTransfer.Key.offer, offer.jsonValue, by: client)
        var current = try await status(of: client)
        var sent = 0
        while !current.done {
            if let stopAfter, sent == stopAfter { return current }
            let start = Int(current.offset)
            let end = min(start + FileTransfer.chunkSize, data.count)
            try await request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: current.id, offset: current.offset, bytes: Array(data[start..<end])).jsonValue, by: client)
            sent += 1
            current = try await status(of: client)
        }
        return current
    }

    private func download(_ id: String, by client: TestClient, from offset: Int64 = 0) async throws -> (bytes: [UInt8], entry: FileTransfer.Entry) {
        var bytes: [UInt8] = []
        var offset = offset
        while true {
            try await request(FileTransfer.Key.get, FileTransfer.Get(id: id, offset: offset).jsonValue, by: client)
            let frame = try await client.next { $0.extensionValue(FileTransfer.Key.data) != nil || $0.error != nil }.frame
            if let error = frame.error { throw TestFailure("ERROR: \(error)") }
            let chunk = try FileTransfer.Chunk.parse(try #require(frame.extensionValue(FileTransfer.Key.data)), key: FileTransfer.Key.data).get()
            let entry = try #require(frame.extensionValue("FILE").flatMap(FileTransfer.Entry.init))
            #expect(chunk.offset == offset)
            bytes += chunk.bytes
            offset += Int64(chunk.bytes.count)
            if offset >= entry.size { return (bytes, entry) }
        }
    }

    private func files(visibleTo client: TestClient) async throws -> [FileTransfer.Entry] {
        try await request(FileTransfer.Key.list, .object(JSONObject()), by: client)
        let frame = try await client.next { $0.extensionValue(FileTransfer.Key.list) != nil }.frame
        return frame.extensionValue(FileTransfer.Key.list)?.arrayValue?.compactMap(FileTransfer.Entry.init) ?? []
    }

    @Test func aMultiMegabyteFileRoundTripsWhileChatFlows() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice", features: ["files"])
            let bob = try await server.login("bob", features: ["files"])
            let data = Self.bytes(3 * 1024 * 1024 + 12_345)
            let done = try await upload(data, name: "big.bin", by: alice)
            #expect(done.done && done.offset == Int64(data.count))

            // Everyone hears of it as an ordinary message, readable by plain clients.
            let note = try await bob.next { $0.messages?.first?.content.hasPrefix("[file] big.bin") == true }.frame.messages![0]
            #expect(note.source == "alice" && note.destination == "ALL")
            #expect(note.content == "[file] big.bin (\(data.count) bytes) - fetch it with /Get \(done.id)")

            #expect(try await files(visibleTo: bob).map(\.id) == [done.id])
            // A chat message between two chunks of the download goes through at once.
            try await request(FileTransfer.Key.get, FileTransfer.Get(id: done.id, offset: 0).jsonValue, by: bob)
            try await alice.say("still chatting", as: "alice")
            let (_, skipped) = try await bob.next { $0.messages?.first?.content == "still chatting" }
            let isData: (Frame) -> Bool = { $0.extensionValue(FileTransfer.Key.data) != nil }
            var firstFrame = skipped.first(where: isData)
            if firstFrame == nil { firstFrame = try await bob.next(where: isData).frame }
            let firstData = try #require(firstFrame?.extensionValue(FileTransfer.Key.data))
            let first = try FileTransfer.Chunk.parse(firstData, key: FileTransfer.Key.data).get()
            #expect(first.offset == 0 && first.bytes.count == FileTransfer.chunkSize)
            let (rest, entry) = try await download(done.id, by: bob, from: Int64(first.bytes.count))
            let received = first.bytes + rest
            #expect(received.count == data.count)
            #expect(Self.sha256(received) == entry.sha256 && received == data)
            #expect(entry.name == "big.bin" && entry.from == "alice" && entry.to == "ALL")
        }
    }

    @Test func anInterruptedUploadResumesWhereItStopped() async throws {
        try await TestServer.with { server in
            let data = Self.bytes(FileTransfer.chunkSize * 3 + 100, seed: 3)
            let observer = try await server.login("observer")
            let first = try await server.login("carol")
            let partial = try await upload(data, name: "resume.bin", by: first, stopAfter: 2)
            #expect(!partial.done && partial.offset == Int64(2 * FileTransfer.chunkSize))
            // The connection drops in the middle of the upload.
            await first.close()
            _ = try await observer.next { $0.usersLeft == ["carol"] }

            let again = try await server.connect()
            #expect(try await again.login("carol").usernameAccepted == true)
            let offer = FileTransfer.Offer(name: "resume.bin", size: Int64(data.count), sha256: Self.sha256(data), to: "ALL")
            try await request(FileTransfer.Key.offer, offer.jsonValue, by: again)
            let resumed = try await status(of: again)
            #expect(resumed.id == partial.id && resumed.offset == partial.offset, "the server kept the first two chunks")
            let done = try await upload(data, name: "resume.bin", by: again)
            #expect(done.done && done.id == partial.id)
            // A download resumes from an offset too.
            let tail = try await download(done.id, by: again, from: Int64(FileTransfer.chunkSize))
            #expect(tail.bytes == Array(data[FileTransfer.chunkSize...]))
        }
    }

    @Test func limitsAndChecksumsAreEnforced() async throws {
        try await TestServer.with(configure: {
            $0.maximumFileBytes = 1_000_000
            $0.fileQuotaPerUser = 1_500_000
        }) { server in
            let dave = try await server.login("dave")
            let big = FileTransfer.Offer(name: "huge.iso", size: 1_000_001, sha256: String(repeating: "0", count: 64), to: "ALL")
            try await request(FileTransfer.Key.offer, big.jsonValue, by: dave)
            #expect(try await dave.nextError() == "File huge.iso not accepted: 1000001 bytes is more than the limit of 1000000 bytes per file.")

            try await upload(Self.bytes(900_000), name: "one.bin", by: dave)
            let second = FileTransfer.Offer(name: "two.bin", size: 900_000, sha256: Self.sha256(Self.bytes(900_000, seed: 9)), to: "ALL")
            try await request(FileTransfer.Key.offer, second.jsonValue, by: dave)
            #expect(try await dave.nextError().hasPrefix("File two.bin not accepted: your files would take more than your quota"))

            // At most eight uploads under way at once.
            var emptyIDs: [String] = []
            for index in 0..<8 {
                let empty = FileTransfer.Offer(name: "empty\(index)", size: 0, sha256: Self.sha256([UInt8(index)]), to: "ALL")
                try await request(FileTransfer.Key.offer, empty.jsonValue, by: dave)
                emptyIDs.append(try await status(of: dave).id)
            }
            let ninth = FileTransfer.Offer(name: "ninth", size: 0, sha256: Self.sha256([99]), to: "ALL")
            try await request(FileTransfer.Key.offer, ninth.jsonValue, by: dave)
            #expect(try await dave.nextError() == "File ninth not accepted: you have 8 uploads under way; finish them first.")
            // An empty file is one empty chunk; here its hash does not match, so it is dropped.
            try await request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: emptyIDs[0], offset: 0, bytes: []).jsonValue, by: dave)
            #expect(try await dave.nextError().hasPrefix("File empty0 was not stored: its SHA-256 is e3b0c442"))
            #expect(try await upload([], name: "really-empty", by: dave).done)

            // The bytes must match the SHA-256 offered.
            let lie = FileTransfer.Offer(name: "lie.txt", size: 4, sha256: Self.sha256([1, 2, 3, 4]), to: "ALL")
            try await request(FileTransfer.Key.offer, lie.jsonValue, by: dave)
            let upload = try await status(of: dave)
            try await request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: upload.id, offset: 0, bytes: [9, 9, 9, 9]).jsonValue, by: dave)
            #expect(try await dave.nextError().hasPrefix("File lie.txt was not stored: its SHA-256 is"))

            for (json, error) in [
                (#"{"FILE_OFFER": {"NAME": "../x", "SIZE": 1, "SHA256": "\#(String(repeating: "a", count: 64))", "TO": "ALL"}}"#, "FILE_OFFER.NAME must be a file name of 1 to 255 bytes, without / or control characters."),
                (#"{"FILE_CHUNK": {"ID": "nope", "OFFSET": 0, "DATA": "AAAA"}}"#, "There is no upload nope of yours under way; offer the file again."),
                (#"{"FILE_CHUNK": {"ID": "x", "OFFSET": 0, "DATA": "not base64!"}}"#, "FILE_CHUNK.DATA must be base64."),
                (#"{"FILE_GET": {"ID": "f0"}}"#, "There is no file f0 for you. Type /Files for the list."),
            ] {
                try await dave.sendJSON(json)
                #expect(try await dave.nextError() == error)
            }
        }
    }

    @Test func anOfflineRecipientFetchesLaterAndBlocksApply() async throws {
        try await TestServer.with { server in
            let erin = try await server.login("erin")
            let frank = try await server.login("frank")
            let mallory = try await server.login("mallory")
            try await mallory.say("/Block erin", as: "mallory")
            _ = try await mallory.nextMessages()
            await frank.close()
            _ = try await erin.next { $0.usersLeft == ["frank"] }

            let data = Self.bytes(70_000, seed: 5)
            let sent = try await upload(data, name: "for-frank.txt", to: "frank", by: erin)
            let broadcast = try await upload(Self.bytes(10, seed: 1), name: "all.txt", by: erin)
            // Mallory blocks erin: neither the note nor the files reach her.
            #expect(try await files(visibleTo: mallory).isEmpty)
            try await request(FileTransfer.Key.get, FileTransfer.Get(id: broadcast.id, offset: 0).jsonValue, by: mallory)
            #expect(try await mallory.nextError() == "There is no file \(broadcast.id) for you. Type /Files for the list.")
            // Nor can erin send her a file.
            let toMallory = FileTransfer.Offer(name: "x", size: 1, sha256: Self.sha256([1]), to: "mallory")
            try await request(FileTransfer.Key.offer, toMallory.jsonValue, by: erin)
            #expect(try await erin.nextError() == "File not sent: you and mallory block each other's messages.")

            let back = try await server.connect()
            let reply = try await back.login("frank")
            #expect(reply.messages?.contains { $0.content.hasPrefix("[file] for-frank.txt") && $0.destination == "frank" } == true)
            #expect(Set(try await files(visibleTo: back).map(\.id)) == [sent.id, broadcast.id])
            #expect(try await download(sent.id, by: back).bytes == data)
            // Plain clients list files with the command.
            try await back.say("/Files", as: "frank")
            let lines = try await back.nextMessages().map(\.content)
            #expect(lines.first == "Files you can fetch (2):")
        }
    }

    @Test func filesSurviveARestart() async throws {
        let directory = TemporaryDirectory()
        let data = Self.bytes(5_000, seed: 11)
        let id = try await TestServer.with(dataDirectory: directory.path) { server in
            let grace = try await server.login("grace")
            return try await upload(data, name: "keep.txt", by: grace).id
        }
        try await TestServer.with(dataDirectory: directory.path) { server in
            let heidi = try await server.login("heidi")
            #expect(try await download(id, by: heidi).bytes == data)
        }
    }

    @Test func withoutAFileDirectoryTheFeatureIsNotOffered() async throws {
        try await TestServer.with(configure: { $0.fileDirectory = nil }) { server in
            let client = try await server.connect()
            let reply = try await client.login("ivan", features: ["commands", "files"])
            #expect(reply.features == ["commands"])
            try await request(FileTransfer.Key.list, .object(JSONObject()), by: client)
            #expect(try await client.nextError() == "This server does not keep files.")
        }
        // Nor with a frame limit too small for a chunk.
        try await TestServer.with(configure: { $0.maximumFrameLength = 100_000 }) { server in
            let client = try await server.connect()
            #expect(try await client.login("judy", features: ["files"]).features == [])
        }
    }
}
