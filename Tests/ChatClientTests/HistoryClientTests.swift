import ChatClient
import ChatProtocol
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// /History and /Search in the client: requests continue from the oldest message shown, and
/// replies become their own events, never live messages.
@Suite struct HistoryClientTests {
    private func welcome(features: [String], cursor: Int64?, more: Bool) -> DecodedFrame {
        var frame = Frame(usernameAccepted: true, userList: ["alice"], messages: [])
        frame.extensions = [
            .init(key: "FEATURES", value: .array(features.map(JSONValue.string))),
            .init(key: "SERVER_USER", value: .string("Chatterbox")),
            .init(key: "HISTORY", value: HistoryPageInfo(before: cursor, more: more).jsonValue),
        ]
        return DecodedFrame(frame: frame)
    }

    private func historyRequest(in actions: [ChatSession.Action], key: String = "HISTORY") -> HistoryQuery? {
        guard case .send(let frame)? = actions.first, let value = frame.extensionValue(key) else { return nil }
        return try? HistoryQuery.parse(value, search: key == "SEARCH").get()
    }

    @Test func historyContinuesFromTheOldestMessageShown() {
        var session = ChatSession()
        _ = session.receive(welcome(features: ["commands", "history"], cursor: 40, more: true), attemptedName: "alice")
        #expect(historyRequest(in: session.interpret("/History", now: 0)) == HistoryQuery(before: 40, limit: 20))

        let old = ChatMessage(source: "bob", destination: "ALL", timestamp: 1, content: "old")
        var page = Frame(messages: [old])
        page.extensions = [.init(key: "HISTORY", value: HistoryPageInfo(before: 12, more: false).jsonValue)]
        #expect(session.receive(DecodedFrame(frame: page)) == [.earlierMessages([old], more: false)])
        #expect(session.historyCursor == 12)
        #expect(session.interpret("/History 5", now: 0) == [.show(.notice("No earlier messages: that was the beginning of the history."))])

        #expect(historyRequest(in: session.interpret("/Search deploy friday", now: 0), key: "SEARCH") == HistoryQuery(query: "deploy friday"))
        var results = Frame(messages: [old])
        results.extensions = [.init(key: "SEARCH", value: HistoryPageInfo(before: 1, more: true, query: "old").jsonValue)]
        #expect(session.receive(DecodedFrame(frame: results)) == [.searchResults(query: "old", messages: [old], more: true)])
    }

    @Test func withoutTheFeatureTheCommandsGoToTheServerOrAreAnsweredLocally() {
        var withCommands = ChatSession()
        _ = withCommands.receive(welcome(features: ["commands"], cursor: nil, more: false), attemptedName: "alice")
        let sent = withCommands.interpret("/History 3", now: 7)
        #expect(sent == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 7, content: "/History 3")]))])

        var plain = ChatSession()
        _ = plain.receive(DecodedFrame(frame: Frame(usernameAccepted: true, userList: ["alice"])), attemptedName: "alice")
        guard case .show(.notice(let text))? = plain.interpret("/Search x", now: 0).first else {
            Issue.record("no local answer")
            return
        }
        #expect(text.contains("not available"))
    }

    @Test func theEngineShowsAPageOfEarlierMessages() async throws {
        try await TestServer.with(configure: { $0.historyLimit = 1 }) { server in
            let bob = try await server.login("bob")
            for content in ["first", "second", "third"] {
                try await bob.say(content, as: "bob")
                _ = try await bob.next { $0.messages?.first?.content == content }
            }
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            defer { typing.finish() }
            let engine = ChatEngine(.init(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: "alice"))
            let running = Task { try await engine.run(input: input) { recorder.append($0) } }
            defer { running.cancel() }
            try await recorder.waitFor("the login replay") { $0 == .event(.history([ChatMessage(source: "bob", destination: "ALL", timestamp: 1_700_000_000, content: "third")])) }
            typing.yield("/History 5")
            let page = try await recorder.waitFor("the page") {
                if case .event(.earlierMessages) = $0 { return true }
                return false
            }
            guard case .event(.earlierMessages(let messages, let more)) = page else { return }
            #expect(messages.map(\.content) == ["first", "second"])
            #expect(!more)
        }
    }
}
