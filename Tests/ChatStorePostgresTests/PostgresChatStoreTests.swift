import ChatTestSupport
import ChatProtocol
import ChatStore
@testable import ChatStorePostgres
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL store on a real server: schema, commits, the order of sequence numbers
/// across concurrent committers, and exact contents.
@Suite struct PostgresChatStoreTests {
    private func message(from source: String, to destination: String, _ content: String, at time: Int64 = 1_700_000_000) -> StoreOperation {
        .message(ChatMessage(source: source, destination: destination, timestamp: time, content: content))
    }

    @Test func migratesOnceAndRefusesANewerSchema() async throws {
        try await TestDatabase.withFreshDatabase { location in
            try await TestDatabase.withStore(at: location) { store in
                try await store.prepare(timeout: TestDatabase.timeout)
                // Twice is harmless: nothing left to apply.
                let again = try await PostgresSchema.migrate(store.client, logger: TestDatabase.logger)
                #expect(again.from == PostgresSchema.latestVersion && again.to == PostgresSchema.latestVersion)
                try await store.client.query("INSERT INTO chatterbox_schema (version, name) VALUES (999, 'from the future')", logger: TestDatabase.logger)
            }
            try await TestDatabase.withStore(at: location) { store in
                do {
                    try await store.prepare(timeout: TestDatabase.timeout)
                    Issue.record("a node started against a schema newer than it knows")
                } catch let error as PostgresSchema.TooNew {
                    #expect(error.found == 999)
                    #expect(error.description.contains("newer than this chatterbox knows"))
                }
            }
        }
    }

    /// Messages are numbered in order; the other entries of the shared log (users, blocks,
    /// accounts, files) take their places in the same order, so a message after them skips
    /// their numbers.
    @Test func commitsGiveIncreasingNumbersAndEverythingLoadsBack() async throws {
        try await TestDatabase.withStore { store in
            #expect(try await store.commit([message(from: "alice", to: "ALL", "one"), message(from: "bob", to: "alice", "two")]) == [1, 2])
            #expect(try await store.commit([
                .user(KnownUser(name: "Alice", deliveredThrough: 2)),
                .block(BlockRelation(blocker: "alice", blocked: "carol")),
                .account(key: "alice", passwordHash: "pbkdf2$1$salt$hash"),
                .file(StoredFile(id: "f1", name: "a.txt", size: 3, sha256: "abc", from: "Alice", fromKey: "alice", to: "ALL", toKey: "all", time: 5)),
            ]) == [])
            let three = try await store.commit([message(from: "alice", to: "ALL", "three")])
            #expect(three == [7], "after 1, 2 and the four entries")
            // A later watermark wins, an earlier one never moves it back; a block goes away.
            _ = try await store.commit([
                .user(KnownUser(name: "alice", deliveredThrough: 1, address: "192.0.2.7", lastSeen: 1_700_000_100, heldSince: 1, heldSinceTime: 1_700_000_000)),
                .unblock(BlockRelation(blocker: "alice", blocked: "carol")),
                .user(KnownUser(name: "zed", deliveredThrough: 3, lastSeen: 10)),
                .user(KnownUser(name: "yan", deliveredThrough: 0, lastSeen: 10)),
            ])
            // zed is forgotten (nothing waits for him); yan has a direct message waiting (2 is to alice, so
            // send one), and a file keeps f1's sender.
            let forYan = try await store.commit([message(from: "alice", to: "yan", "for yan")])
            #expect(forYan == [12], "after 7 and the four entries")
            #expect(try await store.hasDirectMessages(to: "yan", after: 0))
            #expect(try await !store.hasDirectMessages(to: "zed", after: 0))
            _ = try await store.commit([.forgetUser(key: "zed", lastSeenAtMost: 20), .forgetUser(key: "yan", lastSeenAtMost: 20)])

            var snapshot = try await store.load()
            #expect(snapshot.lastSequence == 14, "after 12 and the two forgettings")
            #expect(snapshot.users == [
                KnownUser(name: "alice", deliveredThrough: 2, address: "192.0.2.7", lastSeen: 1_700_000_100, heldSince: 1, heldSinceTime: 1_700_000_000),
                KnownUser(name: "yan", deliveredThrough: 0, lastSeen: 10),
            ])
            #expect(snapshot.blocks.isEmpty)
            #expect(snapshot.accounts == ["alice": "pbkdf2$1$salt$hash"])
            #expect(snapshot.files.map(\.id) == ["f1"])
            #expect(try await store.messages(after: 1, limit: 10).map(\.message.content) == ["two", "three", "for yan"])
            _ = try await store.commit([.removeFile(id: "f1")])
            snapshot = try await store.load()
            #expect(snapshot.files.isEmpty)
        }
    }

    /// Operators' bans are kept (a later ban of the same target replaces the earlier one) and
    /// lifted; kicks and announcements are only entries of the log, for the other nodes.
    @Test func bansAreKeptReplacedAndLiftedAndKicksAreLogEntriesOnly() async throws {
        try await TestDatabase.withStore { store in
            let bob = Ban(target: .name("bob"), display: "Bob", reason: "spam", by: "root", since: 100, until: 200)
            let network = Ban(target: .network("2001:db8::/48"), display: "2001:db8::/48", reason: "", by: "the administrator", since: 101, until: nil)
            _ = try await store.commit([.ban(bob), .ban(network), .kick(key: "carol", reason: "loud", by: "root"), .announce(text: "hi", by: "root")])
            var snapshot = try await store.load()
            #expect(snapshot.bans == [bob, network])
            var longer = bob
            longer.until = 900
            longer.since = 150
            _ = try await store.commit([.ban(longer), .unban(.network("2001:db8::/48"))])
            snapshot = try await store.load()
            #expect(snapshot.bans == [longer])
            let operations = try await store.entries(after: 0, limit: 100).compactMap { entry -> StoreOperation? in
                if case .operation(_, _, let operation) = entry { return operation }
                return nil
            }
            #expect(operations.contains(.kick(key: "carol", reason: "loud", by: "root")))
            #expect(operations.contains(.announce(text: "hi", by: "root")))
        }
    }

    /// The log's entries besides messages are forgotten once every live node has applied them
    /// (and they are old enough); messages, the history, stay.
    @Test func eventsEveryLiveNodeAppliedAreForgotten() async throws {
        try await TestDatabase.withStore { store in
            let first = NodeIdentity(name: "n1", incarnation: "i1"), second = NodeIdentity(name: "n2", incarnation: "i2")
            _ = try await store.begin(first, lease: .seconds(60))
            _ = try await store.begin(second, lease: .seconds(60))
            _ = try await store.commit([.block(BlockRelation(blocker: "a", blocked: "b")), .block(BlockRelation(blocker: "a", blocked: "c"))])
            let messages = try await store.commit([message(from: "a", to: "ALL", "kept")])
            _ = try await store.commit([.unblock(BlockRelation(blocker: "a", blocked: "b"))])
            let all = try await store.entries(after: 0, limit: 100).map(\.sequence)
            #expect(all.count == 4)
            // n1 has applied everything, n2 only the first two blocks: nothing after those goes.
            _ = try await store.renew(first, lease: .seconds(60), applied: all[3])
            _ = try await store.renew(second, lease: .seconds(60), applied: all[1])
            #expect(try await store.pruneEvents(olderThan: .zero) == 2)
            #expect(try await store.entries(after: 0, limit: 100).map(\.sequence) == Array(all[2...]))
            // Not old enough: kept, although applied everywhere.
            _ = try await store.renew(second, lease: .seconds(60), applied: all[3])
            #expect(try await store.pruneEvents(olderThan: .seconds(3600)) == 0)
            #expect(try await store.pruneEvents(olderThan: .zero) == 1)
            #expect(try await store.entries(after: 0, limit: 100).map(\.sequence) == [messages[0]])
        }
    }

    @Test func contentsComeBackExactly() async throws {
        try await TestDatabase.withStore { store in
            let contents = ["héllo 👋🏽 \"quoted\" 'single' \\ back", "", String(repeating: "ü", count: 5000), "nul \u{0} inside", "日本語のテキスト"]
            _ = try await store.commit(contents.map { message(from: "Zoë", to: "ALL", $0) })
            #expect(try await store.messages(after: 0, limit: 10).map(\.message.content) == contents)
            #expect(try await store.recentBroadcasts(limit: 2).map(\.message.content) == Array(contents.suffix(2)))
        }
    }

    /// Two transactions numbering messages at once: the second waits for the first's lock on
    /// the log's head, so number 2 can never be visible while number 1 is not (a reader at
    /// `seq > 0` would otherwise move past 1 for ever).
    @Test func aLaterNumberIsNeverVisibleBeforeAnEarlierOne() async throws {
        try await TestDatabase.withStore { store in
            try await TestDatabase.withClient(store.location) { other in
                try await other.withConnection { slow in
                    // The slow committer takes number 1 and holds its transaction open.
                    try await slow.query("BEGIN", logger: TestDatabase.logger)
                    try await slow.query("UPDATE log_head SET last_sequence = last_sequence + 1", logger: TestDatabase.logger)
                    try await slow.query("""
                        INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content, search)
                        VALUES (1, 'slow', 'slow', 'ALL', 'all', 1, 'first'::bytea, to_tsvector('simple', 'first'))
                        """, logger: TestDatabase.logger)
                    // The fast one starts now and must wait for number 2.
                    let fast = Task { try await store.commit([message(from: "fast", to: "ALL", "second")]) }
                    // Wait (bounded) until the fast commit is blocked on the head's row lock.
                    let deadline = ContinuousClock.now + .seconds(20)
                    while try await waitingOnLocks(other) == 0 {
                        guard ContinuousClock.now < deadline else { Issue.record("the second commit never waited"); return }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    // Until the slow one commits, a reader sees nothing at all.
                    #expect(try await store.messages(after: 0, limit: 10).isEmpty)
                    try await slow.query("COMMIT", logger: TestDatabase.logger)
                    #expect(try await fast.value == [2])
                }
            }
            #expect(try await store.messages(after: 0, limit: 10).map(\.message.content) == ["first", "second"])
        }
    }

    @Test func aSearchPastItsTimeLimitIsStopped() async throws {
        try await TestDatabase.withStore { store in
            // 200,000 messages made by the database itself, every one matching w*.
            try await store.client.query("""
                INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content, search)
                SELECT n, 'u', 'u', 'ALL', 'all', n, convert_to('word' || n || ' wonder', 'UTF8'), to_tsvector('simple', 'word' || n || ' wonder')
                FROM generate_series(1, 200000) AS n
                """, logger: TestDatabase.logger)
            try await store.client.query("UPDATE log_head SET last_sequence = 200000", logger: TestDatabase.logger)
            let request = PageRequest(userKey: "bob", excludedSenders: ["u2"], before: .max, throughSequence: 200_000, limit: 50, words: ["wor*", "won*"], timeLimit: .milliseconds(1))
            await #expect(throws: StoreError.timeLimitExceeded(.milliseconds(1))) { try await store.page(request) }
            // Without a limit it finishes; the limit was the time, not the query.
            var unlimited = request
            unlimited.timeLimit = nil
            #expect(try await store.page(unlimited).messages.count == 50)
        }
    }

    /// Sessions of this test's database waiting for a lock.
    private func waitingOnLocks(_ client: PostgresClient) async throws -> Int {
        var count = 0
        for try await value in try await client.query(
            "SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            logger: TestDatabase.logger
        ).decode(Int64.self) { count = Int(value) }
        return count
    }

    @Test func concurrentCommittersShareOneGaplessOrder() async throws {
        try await TestDatabase.withFreshDatabase { location in
            try await TestDatabase.withStore(at: location) { first in
                try await first.prepare(timeout: TestDatabase.timeout)
                try await TestDatabase.withStore(at: location) { second in
                    try await withThrowingTaskGroup(of: [Int64].self) { group in
                        for node in [first, second] {
                            for worker in 0..<4 {
                                group.addTask {
                                    var numbers: [Int64] = []
                                    for index in 0..<10 {
                                        numbers += try await node.commit([
                                            message(from: "w\(worker)", to: "ALL", "\(index)a"), message(from: "w\(worker)", to: "ALL", "\(index)b"),
                                        ])
                                    }
                                    return numbers
                                }
                            }
                        }
                        var all: [Int64] = []
                        for try await numbers in group { all += numbers }
                        #expect(all.sorted() == Array(1...160))
                    }
                    let stored = try await second.messages(after: 0, limit: 1000)
                    #expect(stored.map(\.sequence) == Array(1...160))
                    // Each commit's two messages are adjacent, in the order given.
                    for pair in stride(from: 0, to: stored.count, by: 2) {
                        #expect(stored[pair].message.content.hasSuffix("a") && stored[pair + 1].message.content.hasSuffix("b"))
                        #expect(stored[pair].message.source == stored[pair + 1].message.source)
                    }
                }
            }
        }
    }
}
