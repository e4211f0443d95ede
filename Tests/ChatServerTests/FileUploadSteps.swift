import ChatProtocol
import ChatTestSupport
import Crypto
import Foundation
import Testing

/// The client's side of feature `files`, step by step, for tests that need uploads.
enum FileUploadSteps {
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func request(_ key: String, _ value: JSONValue, by client: TestClient) async throws {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        try await client.send(frame)
    }

    /// The next FILE_UPLOAD status; an ERROR instead throws.
    static func status(of client: TestClient) async throws -> FileTransfer.UploadStatus {
        let frame = try await client.next { $0.extensionValue(FileTransfer.Key.upload) != nil || $0.error != nil }.frame
        if let error = frame.error { throw TestFailure("ERROR: \(error)") }
        return try #require(frame.extensionValue(FileTransfer.Key.upload).flatMap(FileTransfer.UploadStatus.init))
    }

    /// Offers `data`; the server's answer: a status, or the ERROR's text.
    static func offer(_ data: [UInt8], name: String, to destination: String = "ALL", by client: TestClient) async throws -> Result<FileTransfer.UploadStatus, TestFailure> {
        let offer = FileTransfer.Offer(name: name, size: Int64(data.count), sha256: sha256(data), to: destination)
        try await request(FileTransfer.Key.offer, offer.jsonValue, by: client)
        do {
            return .success(try await status(of: client))
        } catch let failure as TestFailure {
            return .failure(failure)
        }
    }

    /// Offers `data` and sends chunks until the server says done (or `stopAfter` chunks).
    @discardableResult
    static func upload(_ data: [UInt8], name: String, to destination: String = "ALL", by client: TestClient, stopAfter: Int? = nil) async throws -> FileTransfer.UploadStatus {
        var current = try await offer(data, name: name, to: destination, by: client).get()
        var sent = 0
        while !current.done {
            if let stopAfter, sent == stopAfter { return current }
            current = try await sendChunk(of: data, for: current, by: client)
            sent += 1
        }
        return current
    }

    /// Sends the chunk of `data` the upload `current` expects next; the server's status.
    static func sendChunk(of data: [UInt8], for current: FileTransfer.UploadStatus, by client: TestClient) async throws -> FileTransfer.UploadStatus {
        let start = Int(current.offset)
        let end = min(start + FileTransfer.chunkSize, data.count)
        try await request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: current.id, offset: current.offset, bytes: Array(data[start..<end])).jsonValue, by: client)
        return try await status(of: client)
    }

    /// The files `client` may fetch, as FILES lists them.
    static func files(visibleTo client: TestClient) async throws -> [FileTransfer.Entry] {
        try await request(FileTransfer.Key.list, .object(JSONObject()), by: client)
        let frame = try await client.next { $0.extensionValue(FileTransfer.Key.list) != nil }.frame
        return frame.extensionValue(FileTransfer.Key.list)?.arrayValue?.compactMap(FileTransfer.Entry.init) ?? []
    }

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        var state = UInt32(seed) | 1
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12_345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }
}
