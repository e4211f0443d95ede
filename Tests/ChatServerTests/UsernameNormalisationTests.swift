import ChatProtocol
import ChatTestSupport
import Testing

/// Two spellings of one name are one user end to end (issue 21 item 8): direct messages that
/// waited, blocks in the history, names that only look like a known user. (The rows an older
/// server stored under two keys: ChatStoreSQLiteTests' UsernameKeyMergeTests.)
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
}
