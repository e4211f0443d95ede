import ChatProtocol
import Foundation

/// The line-mode client: asks for a username (again when refused), shows who is online and
/// the history, then prints events as they arrive while lines typed by the user are sent.
/// Works on a terminal or a pipe; prints no escape codes.
public struct LineModeClient: Sendable {
    /// Why the client stopped.
    public enum Ending: Sendable, Equatable {
        /// The user quit (/Quit or end of input).
        case quit
        /// The server closed the connection.
        case serverClosed(String)
    }

    public var host: String
    public var port: Int
    public var security: ConnectionSecurity
    /// A name to try first, before asking.
    public var initialUsername: String?
    /// How long a server that answered the login (with extensions) by an ERROR has to accept
    /// it anyway before the client logs in again as a plain client.
    public var plainLoginDelay: Duration

    public init(
        host: String,
        port: Int,
        security: ConnectionSecurity,
        initialUsername: String? = nil,
        plainLoginDelay: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.initialUsername = initialUsername
        self.plainLoginDelay = plainLoginDelay
    }

    /// Connects and runs until the user quits or the server goes away.
    /// - Parameters:
    ///   - input: lines typed by the user; its end means quit.
    ///   - output: receives every line to show; `prompt` receives prompts (no newline).
    public func run(
        input: AsyncStream<String>,
        output: @escaping @Sendable (String) -> Void,
        prompt: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws -> Ending {
        let connection = try await ChatConnection.connect(host: host, port: port, security: security)
        let how = connection.isEncrypted ? (isInsecure ? "TLS, certificate NOT verified" : "TLS, certificate verified") : "plain TCP, NOT encrypted"
        output("-!- Connected to \(host) port \(port) (\(how)).")
        return try await connection.run { frames, writer in
            // One loop owns the session: lines and frames arrive through one stream.
            let (events, sink) = AsyncStream<Incoming>.makeStream(bufferingPolicy: .bufferingOldest(4096))
            let readFrames = Task {
                do {
                    for try await frame in frames { sink.yield(.frame(frame)) }
                    sink.yield(.closed("The server closed the connection."))
                } catch {
                    sink.yield(.closed("Connection lost: \(ChatConnection.describe(error))"))
                }
            }
            let readLines = Task {
                for await line in input { sink.yield(.line(line)) }
                sink.yield(.endOfInput)
            }
            defer {
                readFrames.cancel()
                readLines.cancel()
            }
            var loop = Loop(
                writer: writer, sink: sink, output: output, prompt: prompt,
                initialUsername: initialUsername, plainLoginDelay: plainLoginDelay
            )
            return try await loop.run(events)
        }
    }

    private var isInsecure: Bool {
        if case .tls(.insecure) = security { return true }
        return false
    }

    enum Incoming: Sendable {
        case line(String)
        case frame(DecodedFrame)
        case closed(String)
        case endOfInput
        case loginGraceExpired(Int)
    }

    /// The single consumer of lines and frames.
    struct Loop {
        let writer: FrameWriter
        let sink: AsyncStream<Incoming>.Continuation
        let output: @Sendable (String) -> Void
        let prompt: @Sendable (String) -> Void
        var initialUsername: String?
        let plainLoginDelay: Duration
        var session = ChatSession()
        var formatter = EventFormatter()
        /// The name sent in the pending login, if one is pending.
        var pendingName: String?
        var loginAttempt = 0

        init(
            writer: FrameWriter,
            sink: AsyncStream<Incoming>.Continuation,
            output: @escaping @Sendable (String) -> Void,
            prompt: @escaping @Sendable (String) -> Void,
            initialUsername: String?,
            plainLoginDelay: Duration
        ) {
            self.writer = writer
            self.sink = sink
            self.plainLoginDelay = plainLoginDelay
            self.output = output
            self.prompt = prompt
            self.initialUsername = initialUsername
        }

        mutating func run(_ events: AsyncStream<Incoming>) async throws -> Ending {
            var iterator = events.makeAsyncIterator()
            if let name = initialUsername {
                try await sendLogin(name)
            } else {
                prompt("Username: ")
            }
            while let event = await iterator.next() {
                switch event {
                case .line(let line):
                    if session.username == nil {
                        guard pendingName == nil else {
                            output("-!- Still waiting for the server to answer the login…")
                            continue
                        }
                        let name = line.trimmingTrailingNewline().trimmingCharacters(in: .whitespaces)
                        if name.isEmpty {
                            prompt("Username: ")
                        } else {
                            try await sendLogin(name)
                        }
                        continue
                    }
                    for action in session.interpret(line, now: Int64(Date().timeIntervalSince1970)) {
                        switch action {
                        case .send(let frame): try await writer.send(frame)
                        case .show(let event): show(event)
                        case .quit:
                            output("-!- Bye.")
                            return .quit
                        }
                    }
                case .frame(let frame):
                    try await receive(frame)
                case .loginGraceExpired(let attempt):
                    // A server that answered our FEATURES with an ERROR and nothing else: log in plainly.
                    if attempt == loginAttempt, let name = pendingName, session.username == nil, session.asksForFeatures {
                        session.asksForFeatures = false
                        output("-!- The server did not accept the login with extensions; retrying as a plain client.")
                        try await sendLogin(name)
                    }
                case .closed(let reason):
                    output("-!- \(reason)")
                    return .serverClosed(reason)
                case .endOfInput:
                    return .quit
                }
            }
            return .quit
        }

        mutating func sendLogin(_ name: String) async throws {
            pendingName = name
            loginAttempt += 1
            try await writer.send(session.loginFrame(for: name))
        }

        mutating func receive(_ frame: DecodedFrame) async throws {
            let attempted = pendingName
            let events = session.receive(frame, attemptedName: attempted)
            for event in events {
                switch event {
                case .welcome:
                    pendingName = nil
                    formatter.username = session.username
                    formatter.serverUser = session.serverUser
                    if !session.serverRunsCommands {
                        show(event)
                        output("-!- This server does not run Chatterbox commands; /Block and the other commands work on this screen only. Type /Help.")
                        continue
                    }
                case .loginRefused:
                    pendingName = nil
                    show(event)
                    prompt("Username: ")
                    continue
                case .error where session.username == nil && pendingName != nil && session.asksForFeatures:
                    scheduleLoginGrace()
                default:
                    break
                }
                show(event)
            }
        }

        /// Gives a server that answered the login with an ERROR a moment to accept it anyway.
        func scheduleLoginGrace() {
            let attempt = loginAttempt
            let sink = self.sink
            let delay = plainLoginDelay
            Task {
                try? await Task.sleep(for: delay)
                sink.yield(.loginGraceExpired(attempt))
            }
        }

        func show(_ event: ChatEvent) {
            for line in formatter.lines(for: event) { output(line) }
        }
    }
}
