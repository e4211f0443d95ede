import ChatClient
import ChatProtocol
import Foundation
import NIOCore

/// A raw protocol client for tests: sends any frame or bytes, and reads frames with bounded
/// waits.
public final class TestClient: Sendable {
    private let inbox: FrameInbox
    private let writer: FrameWriter
    private let task: Task<Void, Never>

    public static func connect(host: String, port: Int, security: ConnectionSecurity, from localAddress: String? = nil) async throws -> TestClient {
        let local = try localAddress.map { try SocketAddress(ipAddress: $0, port: 0) }
        let connection = try await ChatConnection.connect(host: host, port: port, security: security, localAddress: local)
        let inbox = FrameInbox()
        let (writerStream, writerContinuation) = AsyncStream<FrameWriter>.makeStream()
        let task = Task {
            do {
                try await connection.run { frames, writer in
                    writerContinuation.yield(writer)
                    writerContinuation.finish()
                    for try await frame in frames { await inbox.push(frame) }
                }
                await inbox.finish(nil)
            } catch {
                await inbox.finish(error)
            }
        }
        var iterator = writerStream.makeAsyncIterator()
        guard let writer = await iterator.next() else { throw TestFailure("connection closed at once") }
        return TestClient(inbox: inbox, writer: writer, task: task)
    }

    private init(inbox: FrameInbox, writer: FrameWriter, task: Task<Void, Never>) {
        self.inbox = inbox
        self.writer = writer
        self.task = task
    }

    deinit {
        // A client dropped without close() (a failed test) still disconnects.
        task.cancel()
    }

    public func send(_ frame: Frame, compress: Bool = false) async throws {
        try await writer.send(frame, compress: compress)
    }

    public func sendRaw(_ bytes: ByteBuffer) async throws {
        try await writer.sendRaw(bytes)
    }

    /// Sends a frame whose payload is `json` exactly as written.
    public func sendJSON(_ json: String) async throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(json.utf8.count))
        buffer.writeString(json)
        try await writer.sendRaw(buffer)
    }

    public func send(_ messages: [ChatMessage]) async throws {
        try await send(Frame(messages: messages))
    }

    public func say(_ content: String, as name: String, to destination: String = "ALL", at timestamp: Int64 = 1_700_000_000) async throws {
        try await send([ChatMessage(source: name, destination: destination, timestamp: timestamp, content: content)])
    }

    /// The next frame; throws if none comes within `timeout` or the connection closed.
    public func next(timeout: Duration = .seconds(30)) async throws -> Frame {
        let decoded = try await nextDecoded(timeout: timeout)
        return decoded.frame
    }

    public func nextDecoded(timeout: Duration = .seconds(30)) async throws -> DecodedFrame {
        guard let frame = try await inbox.next(timeout: timeout) else {
            throw TestFailure("connection closed while waiting for a frame")
        }
        return frame
    }

    /// Reads frames until one matches, returning it; frames before it are returned in `skipped`.
    @discardableResult
    public func next(
        timeout: Duration = .seconds(30),
        where predicate: (Frame) -> Bool
    ) async throws -> (frame: Frame, skipped: [Frame]) {
        var skipped: [Frame] = []
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestFailure("no matching frame within \(timeout); saw \(skipped)") }
            let frame = try await next(timeout: remaining)
            if predicate(frame) { return (frame, skipped) }
            skipped.append(frame)
        }
    }

    /// The next frame carrying MESSAGES; its messages.
    public func nextMessages(timeout: Duration = .seconds(30)) async throws -> [ChatMessage] {
        try await next(timeout: timeout) { $0.messages != nil }.frame.messages!
    }

    /// The next ERROR text.
    public func nextError(timeout: Duration = .seconds(30)) async throws -> String {
        try await next(timeout: timeout) { $0.error != nil }.frame.error!
    }

    /// Sends USERNAME and returns the reply carrying USERNAME_ACCEPTED, with any MESSAGES of
    /// follow-up history frames appended when `collectHistory` is set.
    public func login(_ name: String, features: [String]? = nil) async throws -> Frame {
        var frame = Frame(username: name)
        frame.features = features
        try await send(frame)
        return try await next { $0.usernameAccepted != nil }.frame
    }

    /// Asserts that no frame arrives within `window` (used only to check that something was
    /// NOT delivered, after a later frame proved the earlier one would have arrived).
    public func pendingFrames() async -> [DecodedFrame] {
        await inbox.drain()
    }

    /// Waits until the server closes the connection; frames read meanwhile are returned.
    public func waitForClose(timeout: Duration = .seconds(30)) async throws -> [Frame] {
        var frames: [Frame] = []
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestFailure("connection still open after \(timeout)") }
            do {
                guard let frame = try await inbox.next(timeout: remaining) else { return frames }
                frames.append(frame.frame)
            } catch is FrameInbox.ConnectionFailed {
                return frames
            }
        }
    }

    public func close() async {
        task.cancel()
        _ = await task.value
    }
}

/// Frames received, waiting to be read, with timeouts.
public actor FrameInbox {
    public struct Timeout: Error {}
    public struct ConnectionFailed: Error { var underlying: any Error }

    private var frames: [DecodedFrame] = []
    private var finished = false
    private var failure: (any Error)?
    private var waiter: (id: Int, continuation: CheckedContinuation<DecodedFrame?, any Error>, timer: Task<Void, Never>)?
    private var nextWaiterID = 0

    public func push(_ frame: DecodedFrame) {
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            waiter.continuation.resume(returning: frame)
        } else {
            frames.append(frame)
        }
    }

    public func finish(_ error: (any Error)?) {
        finished = true
        failure = error
        if let waiter {
            self.waiter = nil
            waiter.timer.cancel()
            if let error { waiter.continuation.resume(throwing: ConnectionFailed(underlying: error)) }
            else { waiter.continuation.resume(returning: nil) }
        }
    }

    public func drain() -> [DecodedFrame] {
        defer { frames = [] }
        return frames
    }

    public func next(timeout unscaled: Duration) async throws -> DecodedFrame? {
        let timeout = TestTiming.scaled(unscaled)
        if !frames.isEmpty { return frames.removeFirst() }
        if finished {
            if let failure { throw ConnectionFailed(underlying: failure) }
            return nil
        }
        nextWaiterID += 1
        let id = nextWaiterID
        return try await withCheckedThrowingContinuation { continuation in
            let timer = Task { [weak self] in
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                await self?.expire(id)
            }
            waiter = (id, continuation, timer)
        }
    }

    private func expire(_ id: Int) {
        guard let waiter, waiter.id == id else { return }
        self.waiter = nil
        waiter.continuation.resume(throwing: Timeout())
    }
}
