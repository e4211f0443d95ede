import ChatProtocol
import ChatStore
import NIOCore

/// What the server answers a file request with (feature `files`).
enum FileAnswer: Sendable {
    /// A frame for the requesting client.
    case frame(Frame)
    /// A mistake or a refusal, sent as ERROR.
    case error(String)
}

/// The file requests of one logged-in user: offers, chunks up, chunks down, the list. Disk
/// work runs on the thread pool; answers complete on the connection's loop.
struct FileRequests {
    let hub: Hub
    let shelf: FileShelf
    let connection: ClientConnection
    let userName: String
    let userKey: String

    func handle(_ key: String, _ value: JSONValue) -> EventLoopFuture<FileAnswer> {
        let loop = connection.eventLoop
        switch key {
        case FileTransfer.Key.offer:
            return loop.makeSucceededFuture(offer(value))
        case FileTransfer.Key.chunk:
            return chunk(value)
        case FileTransfer.Key.get:
            return get(value)
        default:
            return loop.makeSucceededFuture(.error("\(key) is sent by servers, not by clients."))
        }
    }

    /// The work of listing the files the user may fetch, the newest 200, oldest first: for the
    /// request threads (a shelf of thousands of files took the event loop for milliseconds per
    /// listing, and a flood of listings stalled everyone on it). What the user may see is read
    /// once here, on the loop, rather than once per file.
    func listingWork() -> @Sendable () -> [StoredFile] {
        let shelf = self.shelf
        let visibility = hub.fileVisibility(for: userKey)
        return { Array(shelf.files.lazy.filter(visibility.allows).suffix(200)) }
    }

    /// The `FILES` reply to a listing.
    static func listFrame(_ files: [StoredFile]) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: FileTransfer.Key.list, value: .array(files.map { entry($0).jsonValue }))]
        return frame
    }

    /// The lines of /Files for a listing.
    static func listLines(_ files: [StoredFile]) -> [String] {
        if files.isEmpty { return ["No files for you."] }
        return ["Files you can fetch (\(files.count)):"] + files.map {
            "\($0.id) \($0.name) (\($0.size) bytes) from \($0.from) to \($0.to)"
        }
    }

    static func entry(_ file: StoredFile) -> FileTransfer.Entry {
        .init(id: file.id, name: file.name, size: file.size, sha256: file.sha256, from: file.from, to: file.to, time: file.time)
    }

    private static func status(_ upload: FileShelf.Upload, done: Bool = false) -> FileAnswer {
        var frame = Frame()
        frame.extensions = [.init(key: FileTransfer.Key.upload, value: FileTransfer.UploadStatus(id: upload.id, offset: upload.received, done: done).jsonValue)]
        return .frame(frame)
    }

    private func offer(_ value: JSONValue) -> FileAnswer {
        let offer: FileTransfer.Offer
        switch FileTransfer.Offer.parse(value) {
        case .success(let parsed): offer = parsed
        case .failure(let problem): return .error(problem.text)
        }
        let destination: (name: String, key: String)
        switch hub.fileDestination(offer.to, from: userKey) {
        case .success(let resolved): destination = resolved
        case .failure(let problem): return .error(problem.text)
        }
        switch shelf.begin(offer, ownerKey: userKey, ownerName: userName, toName: destination.name, toKey: destination.key) {
        case .success(let upload):
            return Self.status(upload)
        case .failure(let problem):
            return .error(problem.text)
        }
    }

    private func chunk(_ value: JSONValue) -> EventLoopFuture<FileAnswer> {
        let loop = connection.eventLoop
        let chunk: FileTransfer.Chunk
        switch FileTransfer.Chunk.parse(value) {
        case .success(let parsed): chunk = parsed
        case .failure(let problem): return loop.makeSucceededFuture(.error(problem.text))
        }
        let upload: FileShelf.Upload
        switch shelf.claim(chunk.id, ownerKey: userKey, offset: chunk.offset, count: chunk.bytes.count) {
        case .success(let claimed): upload = claimed
        case .failure(let problem): return loop.makeSucceededFuture(.error(problem.text))
        }
        let (shelf, hub, connection, userName) = (self.shelf, self.hub, self.connection, self.userName)
        let path = shelf.path(of: upload.id, partial: true)
        return hub.offload(on: loop) { () -> String? in
            try FileShelf.write(chunk.bytes, at: chunk.offset, to: path)
            let complete = chunk.offset + Int64(chunk.bytes.count) == upload.offer.size
            return complete ? try FileShelf.sha256(of: path) : nil
        }.flatMapError { error in
            _ = shelf.written(upload.id, count: 0, succeeded: false)
            return loop.makeFailedFuture(error)
        }.map { digest -> FileAnswer in
            guard let progressed = shelf.written(upload.id, count: chunk.bytes.count, succeeded: true) else {
                return .error("The upload \(upload.id) was abandoned.")
            }
            guard let digest else { return Self.status(progressed) }
            guard digest == upload.offer.sha256 else {
                shelf.abandon(upload.id)
                return .error("File \(upload.offer.name) was not stored: its SHA-256 is \(digest), not \(upload.offer.sha256) as offered. Send it again.")
            }
            do {
                let file = try shelf.complete(progressed, time: Hub.now())
                hub.recordFile(file, connection: connection)
                // The chat hears of it as an ordinary message from the sender: plain clients
                // read it, blocks and offline recipients apply as to any message.
                let note = ChatMessage(
                    source: userName, destination: file.to, timestamp: file.time,
                    content: "[file] \(file.name) (\(file.size) bytes) - fetch it with /Get \(file.id)")
                _ = hub.submit(note, senderKey: file.fromKey, from: connection)
                return Self.status(progressed, done: true)
            } catch {
                shelf.abandon(upload.id)
                return .error("File \(upload.offer.name) was not stored: \(error).")
            }
        }.recover { error in .error("File chunk not stored: \(error). Send it again.") }
    }

    private func get(_ value: JSONValue) -> EventLoopFuture<FileAnswer> {
        let loop = connection.eventLoop
        let request: FileTransfer.Get
        switch FileTransfer.Get.parse(value) {
        case .success(let parsed): request = parsed
        case .failure(let problem): return loop.makeSucceededFuture(.error(problem.text))
        }
        guard let file = shelf.file(request.id), hub.mayFetch(file, key: userKey) else {
            return loop.makeSucceededFuture(.error("There is no file \(request.id) for you. Type /Files for the list."))
        }
        guard request.offset <= file.size else {
            return loop.makeSucceededFuture(.error("FILE_GET.OFFSET \(request.offset) is beyond the end of \(file.id) (\(file.size) bytes)."))
        }
        let path = shelf.path(of: file.id)
        let count = Int(min(Int64(FileTransfer.chunkSize), file.size - request.offset))
        return hub.offload(on: loop) { try FileShelf.read(from: path, at: request.offset, count: count) }
            .map { bytes -> FileAnswer in
                var frame = Frame()
                frame.extensions = [
                    .init(key: FileTransfer.Key.data, value: FileTransfer.Chunk(id: file.id, offset: request.offset, bytes: bytes).jsonValue),
                    .init(key: "FILE", value: Self.entry(file).jsonValue),
                ]
                return .frame(frame)
            }
            .recover { error in .error("File \(file.id) could not be read: \(error).") }
    }
}
