import ChatProtocol
import Foundation
import Synchronization

/// The line-mode client: asks for a username (again when refused), shows who is online and
/// the history, then prints events as they arrive while lines typed by the user are sent.
/// Works on a terminal or a pipe; prints no escape codes.
public struct LineModeClient: Sendable {
    /// Why the client stopped.
    public typealias Ending = ChatEngine.Ending

    /// What to connect to and how to behave: the engine's, as the JSON mode and the
    /// full-screen client take it.
    public var configuration: ChatEngine.Configuration

    /// A client that will connect as `configuration` says.
    public init(_ configuration: ChatEngine.Configuration) {
        self.configuration = configuration
    }

    /// Connects and runs until the user quits or the server goes away (for good).
    /// - Parameters:
    ///   - input: lines typed by the user; its end means quit.
    ///   - output: receives every line to show; `prompt` receives prompts (no newline).
    ///   - hideNextLine: called before the client asks for a password: the next line typed
    ///     should not be echoed (a terminal turns echo off for one line).
    public func run(
        input: AsyncStream<String>,
        output: @escaping @Sendable (String) -> Void,
        prompt: @escaping @Sendable (String) -> Void = { _ in },
        hideNextLine: @escaping @Sendable () -> Void = {}
    ) async throws -> Ending {
        let engine = ChatEngine(configuration)
        let printer = LinePrinter(server: configuration.servers.first ?? ServerEndpoint(host: "", port: 0), output: output, prompt: prompt, hideNextLine: hideNextLine)
        let ending = try await engine.run(input: input) { printer.show($0) }
        switch ending {
        case .quit: output("-!- Bye.")
        case .incomplete(let problems): output("-!- Stopped. " + problems)
        case .serverClosed: break
        }
        return ending
    }
}

/// Turns engine updates into lines. Called from the engine's loop only, one update at a time.
private final class LinePrinter: Sendable {
    let output: @Sendable (String) -> Void
    let prompt: @Sendable (String) -> Void
    let hideNextLine: @Sendable () -> Void
    private let formatter: Mutex<EventFormatter>
    /// The server connected to, or last connected to, as the engine's status says.
    private let server: Mutex<ServerEndpoint>

    init(
        server: ServerEndpoint, output: @escaping @Sendable (String) -> Void,
        prompt: @escaping @Sendable (String) -> Void, hideNextLine: @escaping @Sendable () -> Void
    ) {
        self.server = Mutex(server)
        self.output = output
        self.prompt = prompt
        self.hideNextLine = hideNextLine
        formatter = Mutex(EventFormatter())
    }

    func show(_ update: ClientUpdate) {
        switch update {
        case .event(let event):
            for line in formatter.withLock({ $0.lines(for: event) }) { output(line) }
        case .connection(let event):
            let server = server.withLock { $0 }
            output("-!- " + ConnectionEventText.describe(event, host: server.host, port: server.port))
        case .usernameNeeded(let reason):
            if let reason { output("-!- " + TerminalSanitizer.sanitize(reason)) }
            prompt("Username: ")
        case .secretNeeded(let text):
            hideNextLine()
            prompt(TerminalSanitizer.sanitize(text))
        case .status(let status):
            server.withLock { $0 = status.server }
            formatter.withLock {
                $0.username = status.username
                $0.serverUser = status.serverUser
            }
        }
    }
}
