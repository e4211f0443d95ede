import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Testing

/// Two spellings of one name are one user end to end (issue 21 item 8): direct messages that
/// waited, blocks in the history, names that only look like a known user, and the rows an
/// older server stored under two keys.
@Suite struct UsernameNormalisationTests {
    static let composed = "jos\u{E9}"
    static let decomposed = "jose\u{301}"

    @Test func aDirectMessageToOneSpellingWaitsForTheOther() async throws {
        try await TestServer.with { server in
            let observer = try await server.login("bob")
            // The hub names a direct message's DEST as its recipient last logged in.
            let jose = try await server.login(Self.decomposed)
            await jose.close()
            _ = try await observer.next { $0.usersLeft != nil }
            try await observer.say("while you were away", as: "bob", to: Self.composed)
            _ = try await observer.next { $0.messages?.contains { $0.content == "while you were away" } == true }

            let back = try await server.connect()
            let reply = try await back.login(Self.composed)
            #expect(reply.usernameAccepted == true)
            #expect(reply.messages?.map(\.content).contains("while you were away") == true)
            #expect(reply.info?.contains("1 direct message arrived while you were away") == true)
        }
    }

    @Test func aBlockHoldsInSearchesWhateverSpellingTheBlockedUserLogsInWith() async throws {
        try await TestServer.with { server in
            let mallory = try await server.login("mallory", features: ["history"])
            let first = try await server.login(Self.composed)
            try await mallory.say("/Block \(Self.composed)", as: "mallory")
            _ = try await mallory.next { $0.messages?.contains { $0.content.hasPrefix("You blocked") } == true }
            await first.close()
            _ = try await mallory.next { $0.usersLeft != nil }
            let other = try await server.login(Self.decomposed)
            try await other.say("from the other spelling", as: Self.decomposed)
            _ = try await other.nextMessages()
            try await mallory.say("in plain sight", as: "mallory")
            _ = try await mallory.next { $0.messages?.contains { $0.content == "in plain sight" } == true }
            // The store compares keys byte by byte.
            var search = Frame()
            search.extensions = [.init(key: Frame.Key.search, value: HistoryQuery(limit: 10, query: "spelling").jsonValue)]
            try await mallory.send(search)
            let found = try await mallory.next { $0.extensionValue(Frame.Key.search) != nil }.frame
            #expect(found.messages?.isEmpty == true)
            var everything = Frame()
            everything.extensions = [.init(key: Frame.Key.history, value: HistoryQuery(limit: 10).jsonValue)]
            try await mallory.send(everything)
            let page = try await mallory.next { $0.extensionValue(Frame.Key.history) != nil }.frame
            #expect(page.messages?.map(\.content) == ["in plain sight"])
        }
    }

    @Test func aNameThatOnlyLooksLikeAKnownUserIsRefused() async throws {
        try await TestServer.with { server in
            _ = try await server.login("alice")
            _ = try await server.login("joel")
            let impostor = try await server.connect()
            let refused = try await impostor.login("\u{430}lice")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.contains("looks like alice") == true)
            // A fullwidth spelling is the same name, not another user.
            #expect(try await impostor.login("\u{FF41}lice").info?.contains("already in use") == true)
            // Ordinary names: another script alone, a lookalike within one script.
            #expect(try await impostor.login("Νίκος").usernameAccepted == true)
            #expect(try await server.connect().login("joe1").usernameAccepted == true)
            #expect(try await server.connect().login("山田たろう").usernameAccepted == true)
        }
    }

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
