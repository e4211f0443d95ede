import ChatProtocol
import ChatServer
import ChatTestSupport
import Testing

/// Paging back through history and searching it (feature `history`), over real TLS and SQLite.
@Suite struct HistoryPagingTests {
    static let features = ["commands", "history"]

    private func request(_ key: String, _ query: HistoryQuery, by client: TestClient) async throws -> (messages: [ChatMessage], info: HistoryPageInfo) {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: query.jsonValue)]
        try await client.send(frame)
        let reply = try await client.next { $0.extensionValue(key) != nil }.frame
        return (reply.messages ?? [], try #require(reply.extensionValue(key).flatMap(HistoryPageInfo.init)))
    }

    /// Sends `contents` as `name` (broadcasts unless `to` says otherwise) and waits for the echoes.
    private func say(_ contents: [String], as name: String, to destination: String = "ALL", by client: TestClient) async throws {
        for (index, content) in contents.enumerated() {
            try await client.say(content, as: name, to: destination, at: 1_700_000_000 + Int64(index))
            _ = try await client.next { $0.messages?.contains { $0.content == content } == true }
        }
    }

    @Test func pagesBackBeyondTheLoginWindowUntilTheBeginning() async throws {
        try await TestServer.with(configure: { $0.historyLimit = 5 }) { server in
            let alice = try await server.login("alice")
            try await say((1...12).map { "m\($0)" }, as: "alice", by: alice)

            let bob = try await server.connect()
            let welcome = try await bob.login("bob", features: Self.features)
            #expect(welcome.features == Self.features)
            #expect(welcome.messages?.map(\.content) == ["m8", "m9", "m10", "m11", "m12"])
            let start = try #require(welcome.extensionValue("HISTORY").flatMap(HistoryPageInfo.init))
            #expect(start.more)

            let first = try await request("HISTORY", HistoryQuery(before: start.before, limit: 4), by: bob)
            #expect(first.messages.map(\.content) == ["m4", "m5", "m6", "m7"])
            #expect(first.info.more)
            let second = try await request("HISTORY", HistoryQuery(before: first.info.before, limit: 4), by: bob)
            #expect(second.messages.map(\.content) == ["m1", "m2", "m3"])
            #expect(!second.info.more)
            let past = try await request("HISTORY", HistoryQuery(before: second.info.before, limit: 4), by: bob)
            #expect(past.messages.isEmpty && !past.info.more && past.info.before == nil)
        }
    }

    @Test func pagesAndSearchesShowExactlyWhatTheLoginReplayShows() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            let mallory = try await server.login("mallory")
            try await say(["public hello"], as: "alice", by: alice)
            try await say(["private carol alice"], as: "carol", to: "alice", by: carol)
            try await say(["bob to carol"], as: "bob", to: "carol", by: bob)
            try await say(["mallory spam hello"], as: "mallory", by: mallory)
            try await say(["carol says héllo"], as: "carol", by: carol)
            try await bob.say("/Block mallory", as: "bob")
            _ = try await bob.nextMessages()
            await bob.close()
            _ = try await alice.next { $0.usersLeft == ["bob"] }

            let again = try await server.connect()
            let replay = try await again.login("bob", features: Self.features)
            let visible = ["public hello", "bob to carol", "carol says héllo"]
            #expect(replay.messages?.map(\.content) == visible)

            let page = try await request("HISTORY", HistoryQuery(limit: 50), by: again)
            #expect(page.messages == replay.messages, "paging from the newest shows the replay's messages")

            let hello = try await request("SEARCH", HistoryQuery(query: "HELLO"), by: again)
            #expect(hello.messages.map(\.content) == ["public hello", "carol says héllo"], "case and accents do not matter; blocked senders are left out")
            #expect(hello.info.query == "HELLO" && !hello.info.more)
            #expect(try await request("SEARCH", HistoryQuery(query: "private"), by: again).messages.isEmpty, "another user's direct message")
            #expect(try await request("SEARCH", HistoryQuery(query: "spam"), by: again).messages.isEmpty, "a blocked sender")
            let carolWord = try await request("SEARCH", HistoryQuery(query: "carol"), by: again)
            #expect(carolWord.messages.map(\.content) == ["bob to carol", "carol says héllo"])
            let prefix = try await request("SEARCH", HistoryQuery(query: "pub* hel*"), by: again)
            #expect(prefix.messages.map(\.content) == ["public hello"])
        }
    }

    @Test func searchResultsPageBackToo() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await say((1...7).map { "deploy number \($0)" } + ["unrelated"], as: "alice", by: alice)
            let bob = try await server.login("bob", features: Self.features)
            let first = try await request("SEARCH", HistoryQuery(limit: 3, query: "deploy"), by: bob)
            #expect(first.messages.map(\.content) == ["deploy number 5", "deploy number 6", "deploy number 7"])
            #expect(first.info.more)
            let second = try await request("SEARCH", HistoryQuery(before: first.info.before, limit: 5, query: "deploy"), by: bob)
            #expect(second.messages.map(\.content) == (1...4).map { "deploy number \($0)" })
            #expect(!second.info.more)
        }
    }

    @Test func searchFindsChineseJapaneseAndKoreanWordsAtTheStartOfARun() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await say(["日本語も話せます", "中文也可以", "한국어도 됩니다", "english only"], as: "alice", by: alice)
            let bob = try await server.login("bob", features: Self.features)
            #expect(try await request("SEARCH", HistoryQuery(query: "日本語"), by: bob).messages.map(\.content) == ["日本語も話せます"])
            #expect(try await request("SEARCH", HistoryQuery(query: "中文"), by: bob).messages.map(\.content) == ["中文也可以"])
            #expect(try await request("SEARCH", HistoryQuery(query: "한국어"), by: bob).messages.map(\.content) == ["한국어도 됩니다"])
        }
    }

    @Test func plainClientsUseTheCommands() async throws {
        try await TestServer.with(configure: { $0.historyLimit = 2 }) { server in
            let alice = try await server.login("alice")
            try await say(["one", "two", "three", "four", "five"], as: "alice", by: alice)
            let plain = try await server.login("plain")
            try await plain.say("/History 2", as: "plain")
            let header = try await plain.nextMessages()
            #expect(header.map(\.source) == ["Chatterbox"])
            #expect(header.first?.content == "2 earlier messages, oldest first; /History again for the ones before.")
            #expect(try await plain.nextMessages().map(\.content) == ["two", "three"])
            try await plain.say("/history", as: "plain")
            #expect(try await plain.nextMessages().first?.content == "1 earlier message, oldest first.")
            #expect(try await plain.nextMessages().map(\.content) == ["one"])
            try await plain.say("/Search fou*", as: "plain")
            #expect(try await plain.nextMessages().first?.content == "1 message containing fou*, oldest first.")
            #expect(try await plain.nextMessages().map(\.content) == ["four"])
            try await plain.say("/Search nothing-like-it", as: "plain")
            #expect(try await plain.nextMessages().first?.content == "No messages contain nothing-like-it.")
            try await plain.say("/Search", as: "plain")
            #expect(try await plain.nextError() == "Usage: /Search <words>")
            try await plain.say("/History 0", as: "plain")
            #expect(try await plain.nextError().hasPrefix("Usage: /History [N]"))
        }
    }

    @Test(arguments: [
        (#"{"HISTORY": 5}"#, "HISTORY must be an object, got an integer."),
        (#"{"HISTORY": {"LIMIT": 0}}"#, "HISTORY.LIMIT must be an integer from 1 to 200."),
        (#"{"HISTORY": {"BEFORE": "x"}}"#, "HISTORY.BEFORE must be a positive integer from an earlier reply (or null)."),
        (#"{"HISTORY": {"SINCE": 1}}"#, "HISTORY has an unknown member \"SINCE\"."),
        (#"{"SEARCH": {}}"#, "SEARCH needs a QUERY: the words to look for."),
        (#"{"SEARCH": {"QUERY": "  * \" "}}"#, "Search for at least one word."),
    ])
    func badRequestsGetAClearError(json: String, error: String) async throws {
        try await TestServer.with { server in
            let client = try await server.login("alice", features: Self.features)
            try await client.sendJSON(json)
            #expect(try await client.nextError() == error)
        }
    }

    @Test func searchTextIsNeverFTSSyntaxAndRequestsNeedALogin() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice", features: Self.features)
            try await say(["say \"NEAR\" OR (this)"], as: "alice", by: alice)
            let tricky = try await request("SEARCH", HistoryQuery(query: #"NEAR" OR (this) -x:y ^z"#), by: alice)
            #expect(tricky.messages.isEmpty, "every word must appear; nothing is an operator")
            let quoted = try await request("SEARCH", HistoryQuery(query: #""NEAR" OR (this)"#), by: alice)
            #expect(quoted.messages.map(\.content) == ["say \"NEAR\" OR (this)"])
            let stranger = try await server.connect()
            try await stranger.sendJSON(#"{"HISTORY": {}}"#)
            #expect(try await stranger.nextError().hasPrefix("Log in first"))
        }
    }
}
