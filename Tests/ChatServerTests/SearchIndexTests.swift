import ChatProtocol
import ChatStore
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import Testing

/// The full-text index trails the message table (it is filled in batches, not per commit):
/// a search still sees everything stored, and the background indexer catches up by itself.
@Suite struct SearchIndexTests {
    private func store(_ count: Int, in store: SQLiteChatStore, from first: Int64 = 1) throws {
        try store.apply((first..<(first + Int64(count))).map { sequence in
            .message(StoredMessage(
                sequence: sequence,
                message: ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_000 + sequence, content: "note number \(sequence) about otters")))
        })
    }

    private func search(_ words: [String], in store: SQLiteChatStore, through: Int64) throws -> [Int64] {
        try store.page(PageRequest(userKey: "bob", excludedSenders: [], before: .max, throughSequence: through, limit: 500, words: words))
            .messages.map(\.sequence)
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
}
