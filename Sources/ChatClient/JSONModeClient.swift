import Foundation
import Synchronization

/// The client for scripts and bots (`--json`): lines read from the input are typed lines, and
/// every event comes out as one JSON object per line (see ``JSONEventEncoder``).
public struct JSONModeClient: Sendable {
    public var configuration: ChatEngine.Configuration
    /// Leave out the messages the server replays at the first login (`--no-history`): a bot
    /// answers what is new. Messages missed while reconnecting still come.
    public var skipsLoginHistory: Bool

    public init(_ configuration: ChatEngine.Configuration, skipsLoginHistory: Bool = false) {
        self.configuration = configuration
        self.skipsLoginHistory = skipsLoginHistory
    }

    /// Runs until the input ends (after sending what it holds), the user quits, or the server
    /// goes away for good.
    public func run(input: AsyncStream<String>, output: @escaping @Sendable (String) -> Void) async throws -> ChatEngine.Ending {
        // The server connected to, or last connected to, as the engine's status says.
        let server = CurrentServer(configuration.servers.first ?? ServerEndpoint(host: "", port: 0))
        let skipping = Mutex(skipsLoginHistory)
        let ending = try await ChatEngine(configuration).run(input: input) { update in
            if case .status(let status) = update { server.value.withLock { $0 = status.server } }
            // The first login's replay is the only one skipped.
            if case .event(.history) = update, skipping.withLock({ skip in defer { skip = false }; return skip }) { return }
            let current = server.value.withLock { $0 }
            for line in JSONEventEncoder.lines(for: update, host: current.host, port: current.port) { output(line) }
        }
        if case .incomplete(let problems) = ending {
            output(JSONEventEncoder.encode([JSONEventEncoder.named("incomplete"), ("text", .string(problems))]))
        }
        output(JSONEventEncoder.encode([JSONEventEncoder.named("bye")]))
        return ending
    }
}

/// The server connected to, or last connected to, shared with the engine's update callback.
private final class CurrentServer: Sendable {
    let value: Mutex<ServerEndpoint>

    init(_ server: ServerEndpoint) {
        value = Mutex(server)
    }
}
