import ChatTestSupport
import Foundation
import Hummingbird
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOWebSocket

/// A WebSocket client of the browser gateway (hummingbird-websocket's WSClient) as a browser
/// would be one: each chat frame a text message. Messages received are queued for ``next``.
final class WebSocketTestClient: Sendable {
    enum Outgoing: Sendable {
        case text(String)
        case frame(WebSocketFrame)
        case close
    }

    /// Messages received and not yet taken, and whether the connection ended.
    private let inbox = NIOLockedValueBox<(messages: [String], ended: Bool)>(([], false))
    private let outgoing: AsyncStream<Outgoing>.Continuation
    /// Ends with the close frame the server sent (nil without one).
    let finished: Task<WebSocketCloseFrame?, any Error>
    /// Whether the handshake succeeded (the handler ran).
    private let opened: NIOLockedValueBox<Bool>

    /// Connects to `wss://127.0.0.1:PORT/ws` trusting `caPath` (`ws://` without), sending
    /// `origin` as a browser would; waits (bounded) for the handshake, or throws its failure.
    static func connect(port: Int, caPath: String?, origin: String? = nil, path: String = "/ws") async throws -> WebSocketTestClient {
        let client = WebSocketTestClient(port: port, caPath: caPath, origin: origin, path: path)
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(20))
        while !client.opened.withLockedValue({ $0 }) {
            if ContinuousClock.now > deadline { throw TestFailure("the WebSocket handshake did not complete") }
            // A refused handshake ends the task with an error: report it.
            if let outcome = client.finishedEarly() { _ = try outcome.get() }
            try await Task.sleep(for: .milliseconds(10))
        }
        return client
    }

    private let done = NIOLockedValueBox<Result<WebSocketCloseFrame?, any Error>?>(nil)

    private func finishedEarly() -> Result<WebSocketCloseFrame?, any Error>? {
        if let result = done.withLockedValue({ $0 }) {
            return result.flatMap { _ in .failure(TestFailure("the connection ended before the handshake")) }
        }
        return nil
    }

    private init(port: Int, caPath: String?, origin: String?, path: String) {
        let inbox = self.inbox
        let (outStream, outContinuation) = AsyncStream<Outgoing>.makeStream()
        outgoing = outContinuation
        let opened = NIOLockedValueBox(false)
        self.opened = opened
        var headers = HTTPFields()
        if let origin { headers[.origin] = origin }
        // An IP literal cannot be an SNI name: the certificate is checked against "localhost".
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: headers, sniHostname: "localhost")
        var tls: TLSConfiguration?
        if let caPath {
            var client = TLSConfiguration.makeClientConfiguration()
            client.trustRoots = .file(caPath)
            tls = client
        }
        var logger = Logger(label: "test.ws")
        logger.logLevel = ProcessInfo.processInfo.environment["WS_TRACE"] == nil ? .critical : .trace
        let url = "\(caPath == nil ? "ws" : "wss")://127.0.0.1:\(port)\(path)"
        let done = self.done
        finished = Task {
            let result: Result<WebSocketCloseFrame?, any Error>
            do {
                result = .success(try await WebSocketClient.connect(url: url, configuration: configuration, tlsConfiguration: tls, logger: logger) { inbound, outbound, _ in
                    opened.withLockedValue { $0 = true }
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 24) {
                                if case .text(let text) = message { inbox.withLockedValue { $0.messages.append(text) } }
                            }
                        }
                        group.addTask {
                            for await item in outStream {
                                switch item {
                                case .text(let text): try await outbound.write(.text(text))
                                case .frame(let frame): try await outbound.write(.custom(frame))
                                case .close:
                                    try await outbound.close(.normalClosure, reason: nil)
                                    return
                                }
                            }
                        }
                        // Either side ending (the server closing, or close()) ends both.
                        defer { group.cancelAll() }
                        try await group.next()
                    }
                })
            } catch {
                result = .failure(error)
            }
            inbox.withLockedValue { $0.ended = true }
            done.withLockedValue { $0 = result }
            return try result.get()
        }
    }

    func send(_ json: String) {
        outgoing.yield(.text(json))
    }

    func send(frame: WebSocketFrame) {
        outgoing.yield(.frame(frame))
    }

    /// The next text message, parsed as a JSON object; throws after `timeout` or at the end.
    func next(timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let text = try await nextText(timeout: timeout)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(text)")
        }
        return object
    }

    /// The first message matching `predicate` (skipping others) within `timeout`.
    func next(timeout: Duration = .seconds(20), where predicate: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestFailure("no matching WebSocket message in time") }
            let object = try await next(timeout: remaining)
            if predicate(object) { return object }
        }
    }

    func nextText(timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            let (text, ended): (String?, Bool) = inbox.withLockedValue { state in
                state.messages.isEmpty ? (nil, state.ended) : (state.messages.removeFirst(), false)
            }
            if let text { return text }
            if ended { throw TestFailure("the WebSocket closed") }
            if ContinuousClock.now > deadline { throw TestFailure("no WebSocket message within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits (bounded) for the connection to end; the server's close frame, if any.
    func waitForClose(timeout: Duration = .seconds(20)) async throws -> WebSocketCloseFrame? {
        let task = finished
        return try await withThrowingTaskGroup(of: WebSocketCloseFrame?.self) { group in
            group.addTask { try await task.value }
            group.addTask {
                try await Task.sleep(for: TestTiming.scaled(timeout))
                throw TestFailure("the WebSocket did not close within \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    func close() async {
        outgoing.yield(.close)
        outgoing.finish()
        _ = try? await waitForClose(timeout: .seconds(5))
        finished.cancel()
    }
}
