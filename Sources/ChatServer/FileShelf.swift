import ChatProtocol
import ChatStore
import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Files uploaded for fetching (feature `files`): the ones stored and checked, and the
/// uploads under way, with their bytes on disk in one directory (`ID` and `ID.part`).
///
/// Who may upload to whom and who may fetch what is decided by the hub (destinations,
/// blocks); the shelf keeps the bookkeeping, the limits and the disk.
final class FileShelf: Sendable {
    struct Upload: Sendable {
        var id: String
        var offer: FileTransfer.Offer
        var ownerKey: String
        var ownerName: String
        var toName: String
        var toKey: String
        var received: Int64
        /// A chunk is being written: the next must wait for it.
        var busy = false
    }

    private struct State {
        var files: [String: StoredFile] = [:]
        var uploads: [String: Upload] = [:]
    }

    /// Uploads one user may have under way, and files one user may have stored: bounds on
    /// memory, disk entries and rows that sizes alone do not give (empty files cost nothing
    /// against a quota in bytes).
    static let maximumUploadsPerUser = 8
    static let maximumFilesPerUser = 1_000

    let directory: String
    let maximumFileBytes: Int64
    let quotaPerUser: Int64
    private let state: NIOLockedValueBox<State>

    init(directory: String, maximumFileBytes: Int64, quotaPerUser: Int64, files: [StoredFile]) throws {
        self.directory = directory
        self.maximumFileBytes = maximumFileBytes
        self.quotaPerUser = quotaPerUser
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var initial = State()
        for file in files { initial.files[file.id] = file }
        state = NIOLockedValueBox(initial)
    }

    func path(of id: String, partial: Bool = false) -> String {
        directory + "/" + id + (partial ? ".part" : "")
    }

    /// Starts (or, for the same owner, file and destination, resumes) an upload; says why not.
    func begin(_ offer: FileTransfer.Offer, ownerKey: String, ownerName: String, toName: String, toKey: String) -> Result<Upload, FileTransfer.Problem> {
        guard offer.size <= maximumFileBytes else {
            return .failure(.init("File \(offer.name) not accepted: \(offer.size) bytes is more than the limit of \(maximumFileBytes) bytes per file."))
        }
        return state.withLockedValue { state in
            if let existing = state.uploads.values.first(where: {
                $0.ownerKey == ownerKey && $0.offer.sha256 == offer.sha256 && $0.offer.size == offer.size && $0.toKey == toKey
            }) {
                return .success(existing)
            }
            let owned = state.files.values.filter { $0.fromKey == ownerKey }
            let underWay = state.uploads.values.filter { $0.ownerKey == ownerKey }
            guard underWay.count < Self.maximumUploadsPerUser else {
                return .failure(.init("File \(offer.name) not accepted: you have \(underWay.count) uploads under way; finish them first."))
            }
            guard owned.count + underWay.count < Self.maximumFilesPerUser else {
                return .failure(.init("File \(offer.name) not accepted: you already have \(Self.maximumFilesPerUser) files here."))
            }
            let used = owned.reduce(0) { $0 + $1.size } + underWay.reduce(0) { $0 + $1.offer.size }
            guard used + offer.size <= quotaPerUser else {
                return .failure(.init("File \(offer.name) not accepted: your files would take more than your quota of \(quotaPerUser) bytes (\(used) in use)."))
            }
            var generator = SystemRandomNumberGenerator()
            let id = "f" + String(UInt64.random(in: 1 << 40 ..< 1 << 44, using: &generator), radix: 16)
            let upload = Upload(id: id, offer: offer, ownerKey: ownerKey, ownerName: ownerName, toName: toName, toKey: toKey, received: 0)
            state.uploads[id] = upload
            _ = FileManager.default.createFile(atPath: path(of: id, partial: true), contents: nil)
            return .success(upload)
        }
    }

    /// Claims the upload `id` of `ownerKey` for writing a chunk of `count` bytes at `offset`.
    func claim(_ id: String, ownerKey: String, offset: Int64, count: Int) -> Result<Upload, FileTransfer.Problem> {
        state.withLockedValue { state in
            guard var upload = state.uploads[id], upload.ownerKey == ownerKey else {
                return .failure(.init("There is no upload \(id) of yours under way; offer the file again."))
            }
            guard !upload.busy else { return .failure(.init("Wait for FILE_UPLOAD before sending the next chunk of \(id).")) }
            guard offset == upload.received else {
                return .failure(.init("FILE_CHUNK for \(id) at offset \(offset), expected \(upload.received)."))
            }
            guard Int64(count) <= upload.offer.size - upload.received, count > 0 || upload.offer.size == 0 else {
                return .failure(.init("FILE_CHUNK for \(id) goes beyond the size offered (\(upload.offer.size) bytes)."))
            }
            upload.busy = true
            state.uploads[id] = upload
            return .success(upload)
        }
    }

    /// A claimed chunk was written (or failed): the upload moves on.
    func written(_ id: String, count: Int, succeeded: Bool) -> Upload? {
        state.withLockedValue { state in
            guard var upload = state.uploads[id] else { return nil }
            upload.busy = false
            if succeeded { upload.received += Int64(count) }
            state.uploads[id] = upload
            return upload
        }
    }

    /// The upload is complete and its hash checked: it becomes a stored file.
    func complete(_ upload: Upload, time: Int64) throws -> StoredFile {
        try FileManager.default.moveItem(atPath: path(of: upload.id, partial: true), toPath: path(of: upload.id))
        let file = StoredFile(
            id: upload.id, name: upload.offer.name, size: upload.offer.size, sha256: upload.offer.sha256,
            from: upload.ownerName, fromKey: upload.ownerKey, to: upload.toName, toKey: upload.toKey, time: time)
        state.withLockedValue { state in
            state.uploads[upload.id] = nil
            state.files[upload.id] = file
        }
        return file
    }

    /// Drops an upload and its partial file.
    func abandon(_ id: String) {
        state.withLockedValue { _ = $0.uploads.removeValue(forKey: id) }
        try? FileManager.default.removeItem(atPath: path(of: id, partial: true))
    }

    func file(_ id: String) -> StoredFile? {
        state.withLockedValue { $0.files[id] }
    }

    /// Every stored file, oldest first.
    var files: [StoredFile] {
        state.withLockedValue { $0.files.values.sorted { ($0.time, $0.id) < ($1.time, $1.id) } }
    }

    // MARK: - Disk (blocking: call on the thread pool)

    static func write(_ bytes: [UInt8], at offset: Int64, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw FileTransfer.Problem("cannot open \(path)") }
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(offset))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
    }

    static func read(from path: String, at offset: Int64, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileTransfer.Problem("cannot open \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return Array(try handle.read(upToCount: count) ?? Data())
    }

    /// Lowercase hex SHA-256 of the file at `path`, read in 1 MiB pieces.
    static func sha256(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileTransfer.Problem("cannot open \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
