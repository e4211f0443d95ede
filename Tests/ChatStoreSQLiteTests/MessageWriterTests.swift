import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Testing

/// The store binds messages through SQLite's C calls, runs its own BEGIN/COMMIT and numbers the
/// messages itself: what goes in must come back byte for byte, numbered in order, and a failed
/// commit must leave nothing behind, not even a number.
@Suite struct MessageWriterTests {
    private func message(from source: String, to destination: String, _ content: String, at time: Int64 = 1_700_000_000) -> ChatMessage {
        ChatMessage(source: source, destination: destination, timestamp: time, content: content)
    }

    private func history(_ store: SQLiteChatStore, for user: String, through last: Int64) throws -> [StoredMessage] {
        try store.history(HistoryRequest(userKey: user, excludedSenders: [], limit: 100, throughSequence: last, pendingAfter: last)).messages
    }

    @Test func textComesBackExactly() throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        let messages = [
            message(from: "Zoë", to: "ALL", "héllo 👋🏽 \"quoted\" 'single' \\ back"),
            message(from: "Zoë", to: "Bob", ""),
            message(from: "Bob", to: "Zoë", String(repeating: "ü", count: 5000)),
            message(from: "Bob", to: "ALL", "nul \u{0} inside"),
            message(from: "Bob", to: "ALL", "short"),
        ]
        #expect(try store.apply(messages.map { .message($0) }) == [1, 2, 3, 4, 5])
        // Including the NUL of JSON's "\u0000", which reading the column as C text cut short.
        #expect(try history(store, for: "zoë", through: 5) == messages.enumerated().map { StoredMessage(sequence: Int64($0 + 1), message: $1) })
        // The keys are stored lowercased, so Bob's history finds the message sent to "Bob".
        #expect(try history(store, for: "bob", through: 5).map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(try store.load().lastSequence == 5)
    }

    @Test func numbersContinueAcrossCommitsAndRestarts() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        do {
            let store = try SQLiteChatStore(path: path)
            defer { try? store.close() }
            #expect(try store.apply([.message(message(from: "a", to: "ALL", "1")), .user(KnownUser(name: "a", deliveredThrough: 0))]) == [1])
            #expect(try store.apply([.user(KnownUser(name: "b", deliveredThrough: 0))]) == [])
            #expect(try store.apply([.message(message(from: "a", to: "ALL", "2")), .message(message(from: "a", to: "b", "3"))]) == [2, 3])
        }
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        #expect(try store.apply([.message(message(from: "b", to: "ALL", "4"))]) == [4])
    }

    @Test func aFailedCommitStoresNothingAndNumbersNothing() throws {
        let directory = TemporaryDirectory()
        // A database that cannot grow past a few pages fails as a full disk does.
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite", maximumPageCount: 40)
        defer { try? store.close() }
        #expect(try store.apply([.message(message(from: "alice", to: "ALL", "first"))]) == [1])
        #expect(throws: (any Error).self) {
            try store.apply([
                .message(message(from: "alice", to: "ALL", "second")),
                .user(KnownUser(name: "carol", deliveredThrough: 2)),
                .message(message(from: "alice", to: "ALL", String(repeating: "too big for the disk ", count: 20_000))),
            ])
        }
        #expect(try history(store, for: "alice", through: 10).map(\.message.content) == ["first"])
        #expect(try store.load().users.isEmpty)
        // The failed commit gave no number away: the next message is 2.
        #expect(try store.apply([.message(message(from: "alice", to: "ALL", "second, again"))]) == [2])
        #expect(try history(store, for: "alice", through: 10).map(\.message.content) == ["first", "second, again"])
        #expect(try store.integrityCheck() == ["ok"])
    }
}
