import ChatProtocol
import ChatStore
@testable import ChatStorePostgres
import ChatTestSupport
import NIOConcurrencyHelpers
import PostgresNIO
import Testing

/// The listener wakes its reader for every commit, and again after its connection is cut (when
/// notifications may have been lost).
@Suite struct PostgresLogListenerTests {
    /// Waits (bounded) until `wakes` holds something `condition` accepts.
    private func waitFor(_ wakes: NIOLockedValueBox<[PostgresLogListener.Wake]>, _ what: String, _ condition: @escaping ([PostgresLogListener.Wake]) -> Bool) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(20))
        while !wakes.withLockedValue({ condition($0) }) {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what); woke: \(wakes.withLockedValue { $0 })")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func wakesForEachCommitAndAfterReconnecting() async throws {
        try await TestDatabase.withStore { store in
            let wakes = NIOLockedValueBox<[PostgresLogListener.Wake]>([])
            let listener = PostgresLogListener(store: store)
            let listening = Task { await listener.run { wake in wakes.withLockedValue { $0.append(wake) } } }
            defer { listening.cancel() }
            try await waitFor(wakes, "the first LISTEN") { $0 == [.listening] }

            let message = StoreOperation.message(ChatMessage(source: "a", destination: "ALL", timestamp: 1, content: "hi"))
            _ = try await store.commit([message])
            try await waitFor(wakes, "the commit's notification") { $0.contains(.committed(1)) }

            // The database ends the listening session (as a restart would): the listener comes back.
            try await store.client.query("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()
                """, logger: TestDatabase.logger)
            try await waitFor(wakes, "listening again") { $0.filter { $0 == .listening }.count == 2 }
            _ = try await store.commit([message, message])
            try await waitFor(wakes, "the next commit's notification") { $0.contains(.committed(3)) }
        }
    }
}
