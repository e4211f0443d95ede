import NIOConcurrencyHelpers

/// Collects the client's output lines and lets a test wait for one.
public final class OutputRecorder: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    public init() {}

    public func append(_ line: String) {
        lines.withLockedValue { $0.append(line) }
    }

    public var all: [String] { lines.withLockedValue { $0 } }

    /// Waits (bounded) until a line containing `text` has been printed.
    public func waitFor(_ text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while ContinuousClock.now < deadline {
            if all.contains(where: { $0.contains(text) }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no line containing \"\(text)\" in:\n" + all.joined(separator: "\n"))
    }
}

