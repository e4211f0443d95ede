import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Foundation
import GRDB
import Testing

/// The full-text index trails the message table (it is filled in batches, not per commit):
/// a search still sees everything stored, and the background indexer catches up by itself.
/// It lives in a file of its own, which the writer of messages never waits for, and it is
/// derived data: rebuilt when missing, damaged or ahead of the messages.
@Suite struct SearchIndexTests {
    private func store(_ count: Int, in store: SQLiteChatStore, from first: Int64 = 1) throws {
        try store.apply((first..<(first + Int64(count))).map { sequence in
            .message(ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_000 + sequence, content: "note number \(sequence) about otters"))
        })
    }

    private func search(_ words: [String], in store: SQLiteChatStore, through: Int64) throws -> [Int64] {
        try store.page(PageRequest(userKey: "bob", excludedSenders: [], before: .max, throughSequence: through, limit: 500, words: words))
            .messages.map(\.sequence)
    }

    /// A store at `path` with `count` messages, all of them searchable, closed again.
    private func closedStoreWithIndexedMessages(_ count: Int, at path: String) throws {
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        try self.store(count, in: store)
        #expect(try search(["otters"], in: store, through: Int64(count)) == Array(1...Int64(count)))
    }

    @Test func aSearchSeesMessagesStoredAMomentAgo() throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        try self.store(30, in: store)
        #expect(try store.searchIndexedThrough() < 30, "storing does not index")
        #expect(try search(["otters"], in: store, through: 30) == Array(1...30))
        #expect(try search(["number", "17"], in: store, through: 30) == [17])
        #expect(try store.searchIndexedThrough() == 30)
        // Later messages are found too, and nothing twice.
        try self.store(5, in: store, from: 31)
        #expect(try search(["otters"], in: store, through: 35) == Array(1...35))
    }

    /// An index of the raw contents (the first format, before ``SearchText``) is rebuilt: in it
    /// a run of Japanese was one word, so a word inside it was not found.
    @Test func anIndexInTheOlderFormatIsRebuilt() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        do {
            let store = try SQLiteChatStore(path: path)
            defer { try? store.close() }
            try store.apply([.message(ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_000, content: "私は日本語も話せます"))])
            #expect(try search(["日本語"], in: store, through: 1) == [1])
        }
        // The index as the first format wrote it: the raw content, no format mark.
        let index = try DatabaseQueue(path: SearchIndex.path(forStoreAt: path))
        try index.writeWithoutTransaction { db in
            try db.execute(sql: """
                INSERT INTO message_fts(message_fts) VALUES ('delete-all');
                INSERT INTO message_fts(rowid, content) VALUES (1, '私は日本語も話せます');
                PRAGMA user_version = 0;
                """)
        }
        try index.close()
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        #expect(try search(["日本語"], in: store, through: 1) == [1])
        #expect(try store.searchIndexedThrough() == 1)
    }

    @Test func theBackgroundIndexerCatchesUpWithoutASearch() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        // More than one background batch (2,000), so the indexer must come back for the rest.
        try self.store(2_500, in: store)
        let deadline = ContinuousClock.now + .seconds(20)
        while try store.searchIndexedThrough() < 2_500, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try store.searchIndexedThrough() == 2_500)
        #expect(try search(["number", "2345"], in: store, through: 2_500) == [2345])
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func theIndexSurvivesAReopenAndStaysConsistent() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        do {
            let store = try SQLiteChatStore(path: path)
            try self.store(20, in: store)
            try store.close()  // indexes what is pending on the way out
        }
        let reopened = try SQLiteChatStore(path: path)
        defer { try? reopened.close() }
        #expect(try reopened.searchIndexedThrough() == 20)
        try self.store(3, in: reopened, from: 21)
        #expect(try search(["otters"], in: reopened, through: 23) == Array(1...23))
        #expect(try reopened.integrityCheck() == ["ok"])
    }

    @Test func messagesAreStoredWhileTheIndexIsLockedForWriting() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        try self.store(10, in: store)
        // Another connection holds the index's write lock, as a long FTS5 merge would. A
        // writer that touched the index would wait for it, then fail with SQLITE_BUSY.
        let indexer = try DatabaseQueue(path: SearchIndex.path(forStoreAt: path))
        defer { try? indexer.close() }
        try indexer.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            defer { try? db.execute(sql: "ROLLBACK") }
            try self.store(10, in: store, from: 11)
        }
        #expect(try store.load().lastSequence == 20)
        #expect(try search(["otters"], in: store, through: 20) == Array(1...20))
    }

    @Test func aMissingOrDamagedIndexIsRebuiltFromTheMessages() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        try closedStoreWithIndexedMessages(20, at: path)
        for file in SearchIndex.files(forStoreAt: path) { try? FileManager.default.removeItem(atPath: file) }
        do {
            let store = try SQLiteChatStore(path: path)
            #expect(try search(["number", "7"], in: store, through: 20) == [7])
            #expect(try store.searchIndexedThrough() == 20)
            try store.close()
        }
        // Not a database at all: replaced, then rebuilt.
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: SearchIndex.path(forStoreAt: path)))
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        #expect(try search(["otters"], in: store, through: 20) == Array(1...20))
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func anIndexAheadOfTheMessagesStartsOver() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        try closedStoreWithIndexedMessages(20, at: path)
        // The newest five removed by hand: their numbers will be used again, for other words.
        do {
            let database = try DatabaseQueue(path: path)
            try database.write { try $0.execute(sql: "DELETE FROM message WHERE seq > 15") }
            try database.close()
        }
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        try store.apply((16...20).map { sequence in
            .message(ChatMessage(source: "bob", destination: "ALL", timestamp: 1_700_000_100, content: "a remark on beavers"))
        })
        #expect(try search(["otters"], in: store, through: 20) == Array(1...15))
        #expect(try search(["beavers"], in: store, through: 20) == Array(16...20))
    }

    @Test func aStoreFromBeforeTheIndexHadItsOwnFileIsUpgraded() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        // A store as version 6 left it: the index inside the store's own file.
        do {
            let database = try DatabasePool(path: path)
            try SQLiteChatStore.migrator.migrate(database, upTo: "v6-direct-messages-by-sender")
            try database.write { db in
                for sequence in 1...12 {
                    try db.execute(sql: """
                        INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content)
                        VALUES (?, 'alice', 'alice', 'ALL', 'all', 1700000000, ?)
                        """, arguments: [sequence, "note number \(sequence) about otters"])
                }
                try db.execute(sql: "INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
                try db.execute(sql: "UPDATE search_index SET indexed_through = 12")
            }
            try database.close()
        }
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        #expect(try search(["otters"], in: store, through: 12) == Array(1...12))
        let left = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name LIKE 'message_fts%' OR name = 'search_index'")
        }
        #expect(left.isEmpty, "left in the store's file: \(left)")
        #expect(try store.integrityCheck() == ["ok"])
    }
}
