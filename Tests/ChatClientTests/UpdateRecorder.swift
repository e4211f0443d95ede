import ChatClient
import ChatTestSupport
import Synchronization

/// Collects what an engine reports and lets a test wait for something in it.
final class UpdateRecorder: Sendable {
    private let updates = Mutex<[ClientUpdate]>([])

    func append(_ update: ClientUpdate) {
        updates.withLock { $0.append(update) }
    }

    var all: [ClientUpdate] { updates.withLock { $0 } }

    /// Waits (bounded) until an update satisfies `condition`, and returns it.
    @discardableResult
    func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: (ClientUpdate) -> Bool) async throws -> ClientUpdate {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while ContinuousClock.now < deadline {
            if let found = all.first(where: condition) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("no update showing \(what) in:\n" + all.map { "\($0)" }.joined(separator: "\n"))
    }
}
