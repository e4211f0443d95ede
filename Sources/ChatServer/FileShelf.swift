import ChatProtocol
import ChatStore
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Files uploaded for fetching (feature `files`): the ones stored and checked, and the
/// uploads under way, with their bytes on disk in one directory (`ID` and `ID.part`).
///
/// Who may upload to whom and who may fetch what is decided by the hub (destinations,
/// blocks); the shelf keeps the bookkeeping, the limits and the disk: a quota per user and one
/// for everyone, a floor of free disk space that uploads may not go below (the database needs
/// room for chat), uploads abandoned when idle, files deleted when they expire.
final class FileShelf: Sendable {
    /// What bounds the shelf's use of the disk.
    struct Limits: Sendable {
        var maximumFileBytes: Int64
        var quotaPerUser: Int64
        var quotaTotal: Int64
        /// Free bytes the disk must keep after an upload; zero: no floor.
        var minimumFreeDiskBytes: Int64
    }

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
        /// When the upload last started or received a chunk.
        var lastActivity: NIODeadline
    }

    private struct State {
        private(set) var files: [String: StoredFile] = [:]
        var uploads: [String: Upload] = [:]
        /// The sizes of `files`, added up.
        private(set) var storedBytes: Int64 = 0

        mutating func add(_ file: StoredFile) {
            if let replaced = files.updateValue(file, forKey: file.id) { storedBytes -= replaced.size }
            storedBytes += file.size
        }

        mutating func remove(_ id: String) {
            if let removed = files.removeValue(forKey: id) { storedBytes -= removed.size }
        }
    }

    /// Uploads one user may have under way, and files one user may have stored: bounds on
    /// memory, disk entries and rows that sizes alone do not give (empty files cost nothing
    /// against a quota in bytes).
    static let maximumUploadsPerUser = 8
    static let maximumFilesPerUser = 1_000

    let directory: String
    let limits: Limits
    var maximumFileBytes: Int64 { limits.maximumFileBytes }
    var quotaPerUser: Int64 { limits.quotaPerUser }
    private let clock: ServerClock
    private let state: NIOLockedValueBox<State>
    /// Free bytes on the disk holding `path`; `nil` when it cannot be told.
    private let freeSpace: @Sendable (String) -> Int64?

    /// What the start found in the directory and set right.
    struct StartReport: Sendable, Equatable {
        /// Partial files of uploads that ended with the last run (uploads live in memory).
        var removedPartialFiles = 0
        /// Complete files the store has no record of (stored, but the record was not
        /// committed before a crash): nobody can fetch them.
        var removedUnrecordedFiles = 0
        /// Records whose file is gone: left out, for the caller to delete.
        var missingFiles: [StoredFile] = []
    }
    let startReport: StartReport

    init(
        directory: String, limits: Limits, files: [StoredFile], clock: ServerClock = .system,
        freeSpace: @escaping @Sendable (String) -> Int64? = FileShelf.freeSpace(at:), shared: Bool = false
    ) throws {
        self.directory = directory
        self.limits = limits
        self.clock = clock
        self.freeSpace = freeSpace
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var report = StartReport()
        var initial = State()
        let onDisk = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        for file in files {
            if onDisk.contains(file.id) { initial.add(file) } else { report.missingFiles.append(file) }
        }
        for name in onDisk where Self.isOurs(name) && initial.files[name] == nil {
            // In a directory the servers of a cluster share, a partial file may be another
            // server's upload under way, and a file without a record one whose record is being
            // committed: only what nobody has touched for a long while is left over.
            if shared, Self.touchedLately(directory + "/" + name) { continue }
            guard (try? FileManager.default.removeItem(atPath: directory + "/" + name)) != nil else { continue }
            if name.hasSuffix(".part") { report.removedPartialFiles += 1 } else { report.removedUnrecordedFiles += 1 }
        }
        startReport = report
        state = NIOLockedValueBox(initial)
    }

    /// How long a file without a record in a shared directory is left alone: longer than any
    /// upload may sit idle, and than any commit takes.
    static let sharedLeftoverAge: TimeInterval = 24 * 3600

    /// Whether the file at `path` was modified within ``sharedLeftoverAge``.
    static func touchedLately(_ path: String) -> Bool {
        guard let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return false }
        return Date().timeIntervalSince(modified) < sharedLeftoverAge
    }

    /// Whether `name` is one the shelf made (`ID` or `ID.part`, an ID being "f" and hex):
    /// anything else in the directory is left alone.
    static func isOurs(_ name: String) -> Bool {
        let id = name.hasSuffix(".part") ? name.dropLast(5) : Substring(name)
        return id.count > 1 && id.first == "f" && id.dropFirst().allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// Free bytes available to the server on the disk holding `path` (`statvfs`'s `f_bavail`).
    static func freeSpace(at path: String) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
              let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value
        else { return nil }
        return free
    }

    /// Why the disk cannot take `more` bytes beyond what uploads under way still need, or `nil`.
    private func diskProblem(adding more: Int64, state: State) -> String? {
        guard limits.minimumFreeDiskBytes > 0, let free = freeSpace(directory) else { return nil }
        let promised = state.uploads.values.reduce(0) { $0 + ($1.offer.size - $1.received) }
        guard free - promised - more < limits.minimumFreeDiskBytes else { return nil }
        return "the server is short of disk space (it keeps \(limits.minimumFreeDiskBytes) bytes free for the chat itself). Try again later."
    }

    func path(of id: String, partial: Bool = false) -> String {
        directory + "/" + id + (partial ? ".part" : "")
    }

    /// Starts (or, for the same owner, file and destination, resumes) an upload; says why not.
    func begin(_ offer: FileTransfer.Offer, ownerKey: String, ownerName: String, toName: String, toKey: String) -> Result<Upload, FileTransfer.Problem> {
        guard offer.size <= maximumFileBytes else {
            return .failure(.init("File \(offer.name) not accepted: \(offer.size) bytes is more than the limit of \(maximumFileBytes) bytes per file."))
        }
        let now = clock.now()
        return state.withLockedValue { state in
            if var existing = state.uploads.values.first(where: {
                $0.ownerKey == ownerKey && $0.offer.sha256 == offer.sha256 && $0.offer.size == offer.size && $0.toKey == toKey
            }) {
                existing.lastActivity = now
                state.uploads[existing.id] = existing
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
            let everyone = state.storedBytes + state.uploads.values.reduce(0) { $0 + $1.offer.size }
            guard everyone + offer.size <= limits.quotaTotal else {
                return .failure(.init("File \(offer.name) not accepted: the server's space for files is full (\(everyone) of \(limits.quotaTotal) bytes in use). Try again later, when older files have expired."))
            }
            if let problem = diskProblem(adding: offer.size, state: state) {
                return .failure(.init("File \(offer.name) not accepted: \(problem)"))
            }
            var generator = SystemRandomNumberGenerator()
            let id = "f" + String(UInt64.random(in: 1 << 40 ..< 1 << 44, using: &generator), radix: 16)
            let upload = Upload(id: id, offer: offer, ownerKey: ownerKey, ownerName: ownerName, toName: toName, toKey: toKey, received: 0, lastActivity: now)
            state.uploads[id] = upload
            _ = FileManager.default.createFile(atPath: path(of: id, partial: true), contents: nil)
            return .success(upload)
        }
    }

    /// Claims the upload `id` of `ownerKey` for writing a chunk of `count` bytes at `offset`.
    func claim(_ id: String, ownerKey: String, offset: Int64, count: Int) -> Result<Upload, FileTransfer.Problem> {
        let now = clock.now()
        return state.withLockedValue { state in
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
            // The offer reserved its bytes; the floor is checked again in case something else
            // filled the disk meanwhile (the upload stays, to be resumed).
            if let problem = diskProblem(adding: 0, state: state) {
                return .failure(.init("FILE_CHUNK for \(id) not stored: \(problem)"))
            }
            upload.busy = true
            upload.lastActivity = now
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
            state.add(file)
        }
        return file
    }

    /// Drops an upload and its partial file.
    func abandon(_ id: String) {
        state.withLockedValue { _ = $0.uploads.removeValue(forKey: id) }
        try? FileManager.default.removeItem(atPath: path(of: id, partial: true))
    }

    /// Abandons the uploads that have had no chunk for `timeout` (none is being written) and
    /// removes their partial files; returns how many. Blocking: call on the thread pool.
    func abandonIdleUploads(timeout: TimeAmount) -> Int {
        let now = clock.now()
        let idle = state.withLockedValue { state in
            let idle = state.uploads.values.filter { !$0.busy && now - $0.lastActivity >= timeout }.map(\.id)
            for id in idle { state.uploads[id] = nil }
            return idle
        }
        for id in idle { try? FileManager.default.removeItem(atPath: path(of: id, partial: true)) }
        return idle.count
    }

    /// Takes the files stored at or before `time` (seconds since the epoch) off the shelf and
    /// deletes them from the disk; returns them, for the caller to delete their records.
    /// Blocking: call on the thread pool.
    func expireFiles(storedAtOrBefore time: Int64) -> [StoredFile] {
        let expired = state.withLockedValue { state in
            let expired = state.files.values.filter { $0.time <= time }
            for file in expired { state.remove(file.id) }
            return expired
        }
        for file in expired { try? FileManager.default.removeItem(atPath: path(of: file.id)) }
        return expired.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
    }

    /// Whether any stored file or upload under way is from or to the user `key`.
    func involves(_ key: String) -> Bool {
        state.withLockedValue { state in
            state.files.values.contains { $0.fromKey == key || $0.toKey == key }
                || state.uploads.values.contains { $0.ownerKey == key || $0.toKey == key }
        }
    }

    var uploadsUnderWay: Int { state.withLockedValue { $0.uploads.count } }

    func file(_ id: String) -> StoredFile? {
        state.withLockedValue { $0.files[id] }
    }

    /// Records a file another server of the cluster stored (its bytes are in the shared files
    /// directory, or not fetchable here).
    func adopt(_ file: StoredFile) {
        state.withLockedValue { $0.add(file) }
    }

    /// Forgets a file another server of the cluster removed.
    func forget(_ id: String) {
        state.withLockedValue { $0.remove(id) }
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
