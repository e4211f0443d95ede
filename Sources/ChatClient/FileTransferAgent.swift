import ChatProtocol
import Crypto
import Foundation

/// The client's file transfers (feature `files`): uploads one at a time, chunk after chunk as
/// the server acknowledges each (so chat frames pass between them and a slow server slows
/// the upload, not the chat), and downloads pulled chunk by chunk into `PATH.part`, renamed
/// once the SHA-256 matches (never over anything that exists, unless asked: see
/// ``DownloadDestination``). Both resume after a reconnection: an upload by offering the same
/// file again, a download from the size of its `.part` file.
struct FileTransferAgent {
    private struct Upload {
        var path: String
        var offer: FileTransfer.Offer
        var id: String?
        var reported = 0
    }

    private struct Download {
        var id: String
        /// What the user typed for where to save it (tilde-expanded), if anything.
        var requested: String?
        /// Whether an existing file at `requested` may be replaced.
        var force: Bool
        /// Where it is saved (and `path.part` while it arrives); `nil` until the first chunk
        /// names the file.
        var path: String?
        var reported = 0
    }

    /// Frames to send and what to show, in order: notices, and typed news of transfers.
    struct Outcome {
        var frames: [Frame] = []
        var events: [ChatEvent] = []

        init(frames: [Frame] = [], notices: [String] = []) {
            self.frames = frames
            events = notices.map(ChatEvent.notice)
        }

        mutating func notice(_ text: String) {
            events.append(.notice(text))
        }
    }

    private var uploads: [Upload] = []
    private var downloads: [String: Download] = [:]
    /// Where files go when /Get names no path.
    let downloadDirectory: String

    init(downloadDirectory: String = DownloadDestination.defaultDirectory()) {
        self.downloadDirectory = downloadDirectory
    }

    /// Whether transfers are under way (or waiting their turn).
    var isBusy: Bool { !uploads.isEmpty || !downloads.isEmpty }

    static func frame(_ key: String, _ value: JSONValue) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        return frame
    }

    /// /Send: checks and hashes the file, then offers it (now, or after the uploads ahead).
    mutating func send(path: String, to destination: String) -> Outcome {
        let expanded = (path as NSString).expandingTildeInPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory), !isDirectory.boolValue,
              let attributes = try? FileManager.default.attributesOfItem(atPath: expanded),
              let size = (attributes[.size] as? NSNumber)?.int64Value,
              let digest = try? Self.sha256(of: expanded)
        else {
            failures += 1
            return Outcome(notices: ["Cannot read the file \(path)."])
        }
        let offer = FileTransfer.Offer(name: (expanded as NSString).lastPathComponent, size: size, sha256: digest, to: destination)
        uploads.append(Upload(path: expanded, offer: offer))
        if uploads.count > 1 { return Outcome(notices: ["\(offer.name) will be sent after the \(uploads.count - 1) file(s) before it."]) }
        return Outcome(frames: [Self.frame(FileTransfer.Key.offer, offer.jsonValue)], notices: ["Sending \(offer.name) (\(Self.describe(size)))…"])
    }

    /// FILE_UPLOAD: the next chunk, or the next upload once this one is done.
    mutating func received(_ status: FileTransfer.UploadStatus) -> Outcome {
        guard var upload = uploads.first, upload.id == nil || upload.id == status.id else { return Outcome() }
        upload.id = status.id
        var outcome = Outcome()
        if status.done {
            uploads.removeFirst()
            outcome.events.append(.fileTransfer(FileTransferNews(
                direction: .upload, name: upload.offer.name, id: status.id, done: upload.offer.size, total: upload.offer.size, path: upload.path,
                text: "Sent \(upload.offer.name) (\(Self.describe(upload.offer.size))); its id is \(status.id).")))
            if let next = uploads.first {
                outcome.frames.append(Self.frame(FileTransfer.Key.offer, next.offer.jsonValue))
                outcome.notice("Sending \(next.offer.name) (\(Self.describe(next.offer.size)))…")
            }
            return outcome
        }
        let count = Int(min(Int64(FileTransfer.chunkSize), upload.offer.size - status.offset))
        guard let bytes = try? Self.read(upload.path, at: status.offset, count: count), bytes.count == count else {
            uploads.removeFirst()
            failures += 1
            return Outcome(notices: ["Sending \(upload.offer.name) stopped: the file can no longer be read."])
        }
        outcome.frames.append(Self.frame(FileTransfer.Key.chunk, FileTransfer.Chunk(id: status.id, offset: status.offset, bytes: bytes).jsonValue))
        if let line = Self.progress("Sending \(upload.offer.name)", done: status.offset, of: upload.offer.size, reported: &upload.reported) {
            outcome.events.append(.fileTransfer(FileTransferNews(
                direction: .upload, name: upload.offer.name, id: status.id, done: status.offset, total: upload.offer.size, path: upload.path, text: line)))
        }
        uploads[0] = upload
        return outcome
    }

    /// An ERROR while uploading ends that upload (the server says why).
    mutating func uploadFailed() -> Outcome {
        guard !uploads.isEmpty else { return Outcome() }
        uploads.removeFirst()
        failures += 1
        guard let next = uploads.first else { return Outcome() }
        return Outcome(frames: [Self.frame(FileTransfer.Key.offer, next.offer.jsonValue)])
    }

    /// /Get: asks for the first chunk; where the file goes is decided when the first chunk
    /// names it (see ``DownloadDestination``), and a `.part` left there by an earlier attempt
    /// is resumed.
    mutating func get(id: String, path: String?, force: Bool) -> Outcome {
        if downloads[id] != nil { return Outcome(notices: ["\(id) is already being fetched."]) }
        let expanded = path.map { ($0 as NSString).expandingTildeInPath }
        var download = Download(id: id, requested: expanded, force: force)
        var offset: Int64 = 0
        // A file path that is free (or may be replaced) needs no name from the server: an
        // earlier attempt's .part there is resumed at once.
        if let expanded, !expanded.hasSuffix("/"), !DownloadDestination.isDirectory(expanded),
           force || !DownloadDestination.exists(expanded) {
            download.path = expanded
            offset = Self.size(of: expanded + ".part")
        }
        downloads[id] = download
        let notice = offset > 0 ? "Resuming \(id) from byte \(offset)…" : "Fetching \(id)…"
        return Outcome(frames: [Self.frame(FileTransfer.Key.get, FileTransfer.Get(id: id, offset: offset).jsonValue)], notices: [notice])
    }

    /// FILE_DATA: stores the chunk and asks for the next, or checks and finishes.
    mutating func received(_ chunk: FileTransfer.Chunk, of entry: FileTransfer.Entry) -> Outcome {
        guard var download = downloads[chunk.id] else { return Outcome() }
        if download.path == nil {
            if let requested = download.requested, requested.hasSuffix("/"), !DownloadDestination.exists(requested) {
                try? FileManager.default.createDirectory(atPath: requested, withIntermediateDirectories: true)
            }
            let path = DownloadDestination.resolve(
                name: entry.name, fallbackName: entry.id, path: download.requested, force: download.force, downloadDirectory: downloadDirectory)
            download.path = path
            // An earlier attempt's .part of the same name is resumed.
            let existing = Self.size(of: path + ".part")
            if chunk.offset == 0, existing > 0, existing < entry.size {
                downloads[chunk.id] = download
                return Outcome(frames: [Self.frame(FileTransfer.Key.get, FileTransfer.Get(id: chunk.id, offset: existing).jsonValue)],
                               notices: ["Resuming \(entry.name) from byte \(existing)…"])
            }
        }
        let path = download.path!
        let part = path + ".part"
        do {
            try Self.write(chunk.bytes, at: chunk.offset, to: part)
        } catch {
            downloads[chunk.id] = nil
            failures += 1
            return Outcome(notices: ["Fetching \(entry.name) stopped: cannot write \(part)."])
        }
        let received = chunk.offset + Int64(chunk.bytes.count)
        var outcome = Outcome()
        if received < entry.size, !chunk.bytes.isEmpty {
            outcome.frames.append(Self.frame(FileTransfer.Key.get, FileTransfer.Get(id: chunk.id, offset: received).jsonValue))
            if let line = Self.progress("Fetching \(entry.name)", done: received, of: entry.size, reported: &download.reported) {
                outcome.events.append(.fileTransfer(FileTransferNews(
                    direction: .download, name: entry.name, id: entry.id, done: received, total: entry.size, path: nil, text: line)))
            }
            downloads[chunk.id] = download
            return outcome
        }
        downloads[chunk.id] = nil
        guard let digest = try? Self.sha256(of: part), digest == entry.sha256 else {
            try? FileManager.default.removeItem(atPath: part)
            failures += 1
            return Outcome(notices: ["\(entry.name) was not saved: its SHA-256 does not match. Type /Get \(entry.id) to fetch it again."])
        }
        // Something may have appeared at the path meanwhile: never replaced unless asked, and
        // a directory never.
        var target = path
        if DownloadDestination.exists(target), !download.force || DownloadDestination.isDirectory(target) {
            let directory = (target as NSString).deletingLastPathComponent
            target = DownloadDestination.unused(in: directory.isEmpty ? "." : directory, name: (target as NSString).lastPathComponent)
        }
        // rename(2) replaces a file atomically (--force); otherwise the target is free.
        guard rename(part, target) == 0 else {
            failures += 1
            return Outcome(notices: ["\(entry.name) was fetched into \(part) but could not be renamed to \(target): \(String(cString: strerror(errno)))."])
        }
        var saved = Outcome()
        saved.events.append(.fileTransfer(FileTransferNews(
            direction: .download, name: entry.name, id: entry.id, done: entry.size, total: entry.size, path: target,
            text: "Saved \(entry.name) (\(Self.describe(entry.size)), SHA-256 checked) to \(target).")))
        return saved
    }

    /// An ERROR that names a download's id ends that download: asking again, now or after a
    /// reconnection, would only get the same answer.
    mutating func downloadRefused(_ error: String) -> Outcome {
        let refused = downloads.keys.filter { error.contains("file \($0) ") || error.contains("file \($0).") }
        for id in refused {
            downloads[id] = nil
            failures += 1
        }
        return Outcome(notices: refused.sorted().map { "Fetching \($0) stopped." })
    }

    /// Transfers that failed so far (for the exit status of a scripted run).
    private(set) var failures = 0

    /// After logging in again: offer the current upload again and ask for the downloads'
    /// next chunks; the server answers where each stands.
    func resume() -> [Frame] {
        var frames: [Frame] = []
        if let upload = uploads.first { frames.append(Self.frame(FileTransfer.Key.offer, upload.offer.jsonValue)) }
        for download in downloads.values {
            let offset = download.path.map { Self.size(of: $0 + ".part") } ?? 0
            frames.append(Self.frame(FileTransfer.Key.get, FileTransfer.Get(id: download.id, offset: offset).jsonValue))
        }
        return frames
    }

    static func describe(_ list: [FileTransfer.Entry]) -> [String] {
        if list.isEmpty { return ["No files for you."] }
        return ["Files you can fetch (\(list.count); /Get ID to fetch):"] + list.map {
            "  \($0.id)  \($0.name)  \(describe($0.size))  from \($0.from)\($0.to == ChatMessage.broadcastDestination ? "" : " to \($0.to)")"
        }
    }

    // MARK: - Helpers

    static func describe(_ size: Int64) -> String {
        if size < 1024 { return "\(size) bytes" }
        if size < 1 << 20 { return String(format: "%.1f KiB", Double(size) / 1024) }
        return String(format: "%.1f MiB", Double(size) / Double(1 << 20))
    }

    /// A progress line at each further quarter.
    private static func progress(_ what: String, done: Int64, of total: Int64, reported: inout Int) -> String? {
        guard total > 0 else { return nil }
        let quarter = Int(done * 4 / total)
        guard quarter > reported, quarter < 4 else { return nil }
        reported = quarter
        return "\(what): \(quarter * 25) % (\(describe(done)) of \(describe(total)))"
    }

    private static func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    private static func sha256(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func read(_ path: String, at offset: Int64, count: Int) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return Array(try handle.read(upToCount: count) ?? Data())
    }

    private static func write(_ bytes: [UInt8], at offset: Int64, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CocoaError(.fileWriteNoPermission) }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteNoPermission) }
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(offset))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
    }
}
