import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Testing

/// The store binds messages through SQLite's C calls and runs its own BEGIN/COMMIT: what goes
/// in must come back byte for byte, and a failed commit must leave nothing behind.
@Suite struct MessageWriterTests {
    private func stored(_ sequence: Int64, from source: String, to destination: String, _ content: String) -> StoredMessage {
        StoredMessage(sequence: sequence, message: ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000 + sequence, content: content))
    }

    private func history(_ store: SQLiteChatStore, for user: String, through last: Int64) throws -> [StoredMessage] {
        try store.history(HistoryRequest(userKey: user, excludedSenders: [], limit: 100, throughSequence: last, pendingAfter: last)).messages
    }

    @Test func textComesBackExactly() throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        let messages = [
            stored(1, from: "Zoë", to: "ALL", "héllo 👋🏽 \"quoted\" 'single' \\ back"),
            stored(2, from: "Zoë", to: "Bob", ""),
            stored(3, from: "Bob", to: "Zoë", String(repeating: "ü", count: 5000)),
            stored(4, from: "Bob", to: "ALL", "nul \u{0} inside"),
            stored(5, from: "Bob", to: "ALL", "short"),
        ]
        try store.apply(messages.map { .message($0) })
        // Including the NUL of JSON's "\u0000", which reading the column as C text cut short.
        #expect(try history(store, for: "zoë", through: 5) == messages)
        // The keys are stored lowercased, so Bob's history finds the message sent to "Bob".
        #expect(try history(store, for: "bob", through: 5).map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(try store.load().lastSequence == 5)
    }

    @Test func aFailedCommitStoresNothingAndTheNextOneWorks() throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        try store.apply([.message(stored(1, from: "alice", to: "ALL", "first"))])
        // Sequence 1 again: the primary key refuses it after 2 went in, and after the user row.
        #expect(throws: (any Error).self) {
            try store.apply([
                .message(stored(2, from: "alice", to: "ALL", "second")),
                .user(KnownUser(name: "carol", deliveredThrough: 2)),
                .message(stored(1, from: "alice", to: "ALL", "duplicate")),
            ])
        }
        #expect(try history(store, for: "alice", through: 10).map(\.message.content) == ["first"])
        #expect(try store.load().users.isEmpty)
        try store.apply([.message(stored(2, from: "alice", to: "ALL", "second, again"))])
        #expect(try history(store, for: "alice", through: 10).map(\.message.content) == ["first", "second, again"])
        #expect(try store.integrityCheck() == ["ok"])
    }
}
