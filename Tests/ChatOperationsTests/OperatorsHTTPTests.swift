import AsyncHTTPClient
import ChatOperations
import ChatProtocol
import ChatServer
import ChatStore
import ChatTestSupport
import NIOConcurrencyHelpers
import Testing

/// The operators' listener through real sockets: HTTPS with the server's certificate, the
/// probes, and metrics that follow what clients do.
@Suite struct OperatorsHTTPTests {
    @Test func healthAndReadinessAnswerOverHTTPS() async throws {
        try await OperatorsFixture.with { fixture in
            let answer1 = try await fixture.get("/health")
            #expect(answer1 == HTTPAnswer(200, "ok\n"))
            let answer2 = try await fixture.get("/healthz")
            #expect(answer2 == HTTPAnswer(200, "ok\n"))
            let answer3 = try await fixture.get("/ready")
            #expect(answer3 == HTTPAnswer(200, "ready\n"))
            let answer4 = try await fixture.get("/readyz")
            #expect(answer4 == HTTPAnswer(200, "ready\n"))
            #expect(try await fixture.get("/nothing-here").status == 404)
        }
    }

    @Test func plaintextListenerServesHTTP() async throws {
        try await OperatorsFixture.with(plaintext: true) { fixture in
            #expect(fixture.baseURL.hasPrefix("http://"))
            let answer5 = try await fixture.get("/health")
            #expect(answer5 == HTTPAnswer(200, "ok\n"))
        }
    }

    @Test func httpsListenerRefusesPlainHTTP() async throws {
        try await OperatorsFixture.with { fixture in
            let plain = fixture.baseURL.replacingOccurrences(of: "https://", with: "http://")
            await #expect(throws: (any Error).self) { _ = try await OperatorsFixture.get(plain + "/health", client: fixture.client) }
        }
    }

    @Test func readinessFailsWhileTheStoreIsUnreachable() async throws {
        let reachable = NIOLockedValueBox(true)
        try await OperatorsFixture.with(makeStore: { directory in
            SwitchableStore(base: try TestServer.defaultStore(dataDirectory: directory), reachable: reachable)
        }) { fixture in
            #expect(try await fixture.get("/ready").status == 200)
            reachable.withLockedValue { $0 = false }
            // A check is reused for a second: wait (bounded) for the next one.
            let refused = try await eventually { try await fixture.get("/ready") } until: { $0.status == 503 }
            #expect(refused.body.contains("store unreachable: the database is down (test)"))
            // The process itself is fine.
            #expect(try await fixture.get("/health").status == 200)
            reachable.withLockedValue { $0 = true }
            _ = try await eventually { try await fixture.get("/ready") } until: { $0.status == 200 }
        }
    }

    @Test func readinessFailsOnceTheServerStops() async throws {
        try await OperatorsFixture.with { fixture in
            await fixture.chat.server.stop()
            let answer = try await fixture.get("/ready")
            #expect(answer.status == 503)
            #expect(answer.body.contains("not listening"))
            #expect(try await fixture.get("/health").status == 200)
        }
    }

    @Test func metricsFollowWhatClientsDo() async throws {
        try await OperatorsFixture.with { fixture in
            let before = try await fixture.metrics()
            #expect(before["chatterbox_build_info{version=\"test\"}"] == 1)
            #expect(before["chatterbox_connections_open{transport=\"tcp\"}"] == 0)

            let alice = try await fixture.chat.login("alice")
            let bob = try await fixture.chat.login("bob")
            let carol = try await fixture.chat.login("carol")
            // Each hears of the ones who come after.
            _ = try await alice.next()
            _ = try await alice.next()
            _ = try await bob.next()
            try await alice.say("hello all", as: "alice")
            for client in [alice, bob, carol] {
                #expect(try await client.nextMessages().map(\.content) == ["hello all"])
            }
            let refused = try await fixture.chat.connect()
            #expect(try await refused.login("alice").usernameAccepted == false)

            let after = try await fixture.metrics()
            #expect(after["chatterbox_logins_total"] == 3)
            #expect(after["chatterbox_logins_refused_total{reason=\"name\"}"] == 1)
            #expect(after["chatterbox_connections_accepted_total{transport=\"tcp\"}"] == 4)
            #expect(after["chatterbox_connections_open{transport=\"tcp\"}"] == 4)
            #expect(after["chatterbox_users_online"] == 3)
            // One broadcast to the three users online (its sender's copy included).
            #expect(after["chatterbox_messages_received_total{kind=\"broadcast\"}"] == 1)
            #expect(after["chatterbox_messages_received_total{kind=\"direct\"}"] == 0)
            #expect(after["chatterbox_deliveries_total"] == 3)
            #expect((after["chatterbox_store_commit_duration_seconds_count"] ?? 0) >= 1)
            #expect((after["chatterbox_store_commit_messages_sum"] ?? 0) == 1)
            #expect((after["chatterbox_delivery_latency_seconds_count"] ?? 0) >= 1)
            #expect((after["chatterbox_received_bytes_total"] ?? 0) > 0)
            #expect((after["chatterbox_sent_bytes_total"] ?? 0) > 0)
            #expect(after["chatterbox_store_errors_total"] == 0)
            #expect((after["chatterbox_uptime_seconds"] ?? 0) > 0)

            // A direct message: to its recipient and its sender's copy.
            try await bob.say("psst", as: "bob", to: "carol")
            #expect(try await carol.nextMessages().map(\.content) == ["psst"])
            #expect(try await bob.nextMessages().map(\.content) == ["psst"])
            let direct = try await fixture.metrics()
            #expect(direct["chatterbox_messages_received_total{kind=\"direct\"}"] == 1)
            #expect(direct["chatterbox_deliveries_total"] == 5)

            // Bad input: an ERROR counted by kind.
            try await carol.sendJSON("{\"NONSENSE\": 1}")
            _ = try await carol.nextError()
            let errors = try await fixture.metrics()
            #expect(errors["chatterbox_errors_sent_total{kind=\"invalid_input\"}"] == 1)
        }
    }

    /// `probe` again until `accept` says yes, at most 30 s (scaled).
    private func eventually<T>(_ probe: () async throws -> T, until accept: (T) -> Bool) async throws -> T {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while true {
            let value = try await probe()
            if accept(value) { return value }
            guard ContinuousClock.now < deadline else { throw TestFailure("still \(value) after 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// A store whose reachability the test switches; everything else is the real store's.
private struct SwitchableStore: ChatStore {
    let base: any ChatStore
    let reachable: NIOLockedValueBox<Bool>

    struct Down: Error, CustomStringConvertible {
        var description: String { "the database is down (test)" }
    }

    func checkReachable(within timeout: Duration) throws {
        guard reachable.withLockedValue({ $0 }) else { throw Down() }
    }

    func load() throws -> StoreSnapshot { try base.load() }
    func recentBroadcasts(limit: Int) throws -> [StoredMessage] { try base.recentBroadcasts(limit: limit) }
    func apply(_ operations: [StoreOperation]) throws -> [Int64] { try base.apply(operations) }
    func history(_ request: HistoryRequest) throws -> History { try base.history(request) }
    func page(_ request: PageRequest) throws -> Page { try base.page(request) }
    func close() throws { try base.close() }
    func hasDirectMessages(to key: String, after: Int64) throws -> Bool { try base.hasDirectMessages(to: key, after: after) }
}
