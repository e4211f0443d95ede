import Synchronization

/// Collects the client's output lines and lets a test wait for one.
public final class OutputRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    public var all: [String] { lines.withLock { $0 } }

    /// Waits (bounded) until a line containing `text` has been printed.
    public func waitFor(_ text: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if all.contains(where: { $0.contains(text) }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no line containing \"\(text)\" in:\n" + all.joined(separator: "\n"))
    }
}

