import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Testing

/// A database from before usernames were normalised (issue 21 item 8): the rows an older
/// server stored under two spellings of one name become one user when the store opens it.
@Suite struct UsernameKeyMergeTests {
    static let composed = "jos\u{E9}"
    static let decomposed = "jose\u{301}"

    @Test func rowsStoredUnderTwoSpellingsAreMergedIntoOneUser() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/chatterbox.sqlite"
        let nfc = Self.composed, nfd = Self.decomposed
        // As the server stored them before keys were normalised: the key was the name lowercased.
        try SQLiteChatStore.makeDatabase(at: path, migratedUpTo: "v7-search-index-in-its-own-file", then: """
            INSERT INTO user VALUES ('\(nfc)', '\(nfc)', 10), ('\(nfd)', 'Jose\u{301}', 20), ('mallory', 'mallory', 5),
                ('carol', 'carol', 5), ('\u{FF42}\u{FF4F}\u{FF42}', '\u{FF22}\u{FF4F}\u{FF42}', 3);
            INSERT INTO account VALUES ('\(nfc)', 'hash-a'), ('\(nfd)', 'hash-b');
            INSERT INTO block VALUES ('mallory', '\(nfc)'), ('mallory', '\(nfd)'), ('\(nfd)', '\(nfc)'), ('\(nfd)', 'carol');
            INSERT INTO message VALUES
                (1, 'carol', 'carol', 'Jose\u{301}', '\(nfd)', 1, 'to the decomposed spelling'),
                (2, 'Jose\u{301}', '\(nfd)', 'carol', 'carol', 2, 'from the decomposed spelling'),
                (3, 'Jose\u{301}', '\(nfd)', 'ALL', 'all', 3, 'a broadcast'),
                (4, '\u{FF22}\u{FF4F}\u{FF42}', '\u{FF42}\u{FF4F}\u{FF42}', 'ALL', 'all', 4, 'fullwidth');
            INSERT INTO file VALUES ('f1', 'a.txt', 1, 'x', 'Jose\u{301}', '\(nfd)', 'ALL', 'all', 5);
            """)
        let store = try SQLiteChatStore(path: path)
        defer { try? store.close() }
        let snapshot = try store.load()
        let key = UsernameRules.key(nfc)
        let users = snapshot.users.filter { Array(UsernameRules.key($0.name).utf8) == Array(key.utf8) }
        #expect(users.count == 1)
        // The most recently seen spelling's name, the lower watermark.
        #expect(users.first.map { Array($0.name.utf8) } == Array("Jose\u{301}".utf8))
        #expect(users.first?.deliveredThrough == 10)
        #expect(snapshot.users.count == 4, "josé, mallory, carol, bob")
        // The most recently seen spelling's password.
        #expect(snapshot.accounts.count == 1 && snapshot.accounts.values.first == "hash-b")
        #expect(snapshot.accounts.keys.allSatisfy { Array($0.utf8) == Array(key.utf8) })
        // Blocks: the union, without the merged user blocking itself.
        let blocks = Set(snapshot.blocks.map { [Array($0.blocker.utf8), Array($0.blocked.utf8)] })
        #expect(blocks == [[Array("mallory".utf8), Array(key.utf8)], [Array(key.utf8), Array("carol".utf8)]])
        #expect(snapshot.files.map { Array($0.fromKey.utf8) } == [Array(key.utf8)])
        // Every message under the one key: the history of either spelling holds them.
        let history = try store.history(HistoryRequest(userKey: key, excludedSenders: [], limit: 10, throughSequence: 10, pendingAfter: 0))
        #expect(history.messages.map(\.message.content) == [
            "to the decomposed spelling", "from the decomposed spelling", "a broadcast", "fullwidth",
        ])
        #expect(history.pendingCount == 1)
        #expect(snapshot.users.contains { $0.name == "\u{FF22}\u{FF4F}\u{FF42}" })
    }
}
