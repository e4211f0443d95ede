import ChatStorePostgres
import ChatTestSupport
import Foundation
import PostgresNIO
import Testing

/// `/ready` on PostgreSQL: 503 while the database refuses the server, 200 once it is back.
@Suite struct PostgresReadinessTests {
    @Test func readinessFollowsTheDatabase() async throws {
        try await TestDatabase.withFreshDatabase { location in
            try await TestDatabase.withStore(at: location) { store in
                try await store.prepare()
                try await OperatorsFixture.with(makeStore: { _ in store.blocking() }) { fixture in
                    let ready = try await fixture.get("/ready")
                    #expect(ready == HTTPAnswer(200, "ready\n"))

                    // The database goes away: no new connection, the open ones cut.
                    let name = location.database
                    try await Self.admin("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
                    try await Self.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(name)'")
                    let refused = try await Self.eventually { try await fixture.get("/ready") } until: { $0.status == 503 }
                    #expect(refused.body.contains("not ready: store unreachable"), "\(refused)")
                    #expect(try await fixture.get("/health").status == 200)
                    #expect(try await fixture.metrics()["chatterbox_ready"] == 0)

                    try await Self.admin("ALTER DATABASE \(name) ALLOW_CONNECTIONS true")
                    _ = try await Self.eventually { try await fixture.get("/ready") } until: { $0.status == 200 }
                    #expect(try await fixture.metrics()["chatterbox_ready"] == 1)
                }
            }
        }
    }

    /// Runs `sql` on the test server's own database (not the one under test).
    private static func admin(_ sql: String) async throws {
        try await TestDatabase.withClient(try TestDatabase.server()) { client in
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
        }
    }

    /// `probe` again until `accept` says yes, at most 60 s (scaled).
    private static func eventually<T>(_ probe: () async throws -> T, until accept: (T) -> Bool) async throws -> T {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(60))
        while true {
            let value = try await probe()
            if accept(value) { return value }
            guard ContinuousClock.now < deadline else { throw TestFailure("still \(value) after 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
