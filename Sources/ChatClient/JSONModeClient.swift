import Foundation

/// The client for scripts and bots (`--json`): lines read from the input are typed lines, and
/// every event comes out as one JSON object per line (see ``JSONEventEncoder``).
public struct JSONModeClient: Sendable {
    public var configuration: ChatEngine.Configuration

    public init(_ configuration: ChatEngine.Configuration) {
        self.configuration = configuration
    }

    /// Runs until the input ends (after sending what it holds), the user quits, or the server
    /// goes away for good.
    public func run(input: AsyncStream<String>, output: @escaping @Sendable (String) -> Void) async throws -> ChatEngine.Ending {
        let host = configuration.host
        let port = configuration.port
        let ending = try await ChatEngine(configuration).run(input: input) { update in
            for line in JSONEventEncoder.lines(for: update, host: host, port: port) { output(line) }
        }
        if case .incomplete(let problems) = ending {
            output(JSONEventEncoder.encode([JSONEventEncoder.named("incomplete"), ("text", .string(problems))]))
        }
        output(JSONEventEncoder.encode([JSONEventEncoder.named("bye")]))
        return ending
    }
}
