import ChatClient
import ChatProtocol
@testable import ChatServer
import ChatStore
import ChatStoreSQLite
import Foundation
import NIOCore
import ChatTestSupport
import Testing

/// Issue 21, item 1: one user's searches must not stop anyone's login. Logins and password
/// checks have threads of their own; each user's searches, pages and file listings are
/// budgeted; a `*` needs a few letters before it; a query is stopped past its time limit.
@Suite struct ExpensiveRequestTests {
    static func frames(_ frame: Frame, times: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        for _ in 0..<times { buffer.writeImmutableBuffer(FrameCoding.encode(frame)) }
        return buffer
    }

    static func request(_ key: String, _ query: HistoryQuery) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: query.jsonValue)]
        return frame
    }

    /// A server on a store of ``ShutdownTests/storedMessages`` messages, with `configure`'s limits.
    static func withFilledServer(_ configure: @escaping (inout ServerConfiguration) -> Void, _ body: (TestServer) async throws -> Void) async throws {
        let directory = TemporaryDirectory()
        try ShutdownTests.fill(directory.path + "/chatterbox.sqlite")
        try await TestServer.with(dataDirectory: directory.path, configure: configure, body)
    }

    /// Logs in `count` fresh users one after the other, each within the login's bounded wait;
    /// the longest took.
    static func freshLogins(_ count: Int, on server: TestServer) async throws -> Duration {
        var longest = Duration.zero
        for index in 0..<count {
            let start = ContinuousClock.now
            let client = try await server.connect()
            #expect(try await client.login("fresh\(index)").usernameAccepted == true)
            longest = max(longest, ContinuousClock.now - start)
            await client.close()
        }
        return longest
    }

    // MARK: - The proof

    /// The attack of the issue, with every defence on: `w* w*` a hundred times in one write,
    /// beside four users flooding searches the prefix rule lets through. Fresh logins all
    /// complete meanwhile (the issue saw 13-18 s or time-outs).
    @Test func freshLoginsCompleteWhileUsersFloodSearches() async throws {
        try await Self.withFilledServer({ configuration in
            var limits = ServerConfiguration.Limits()
            limits.connectionsPerAddress = 0
            limits.errorBurst = 1000
            limits.framesPerSecond = 0
            configuration.limits = limits
        }) { server in
            let attacker = try await server.login("attacker")
            try await attacker.sendRaw(Self.frames(Self.request("SEARCH", HistoryQuery(query: "w* w*")), times: 100))
            var flooders: [TestClient] = []
            for index in 0..<4 {
                let flooder = try await server.login("flooder\(index)")
                try await flooder.sendRaw(Self.frames(Self.request("SEARCH", HistoryQuery(query: "wor* wha*")), times: 50))
                flooders.append(flooder)
            }
            let longest = try await Self.freshLogins(20, on: server)
            // Every `w*` is refused at once, and most of the floods are answered busy.
            var refusals = 0
            while refusals < 100 {
                let error = try await attacker.next { $0.error != nil }.frame.error!
                #expect(error.contains("need at least 3 letters before the *"))
                refusals += 1
            }
            let busy = try await flooders[0].next { $0.error?.hasPrefix("Busy:") == true }.frame.error!
            #expect(busy.contains("try again"))
            print("freshLoginsCompleteWhileUsersFloodSearches: longest login \(longest)")
        }
    }

    /// Logins' own threads alone (no budget, no prefix rule): five thousand `w* w*` queued on
    /// the request threads (tens of seconds of work), and fresh logins complete while they are
    /// still being answered, each within the login's bounded wait. With one shared pool each
    /// login waited for the whole queue.
    @Test func loginsHaveThreadsNoRequestCanTake() async throws {
        try await Self.withFilledServer({ configuration in
            configuration.limits.searchPrefixMinimum = 1
            configuration.limits.requestsInFlight = 0
            configuration.limits.requestsQueued = 0
        }) { server in
            var attackers: [TestClient] = []
            for index in 0..<10 {
                let attacker = try await server.login("attacker\(index)")
                try await attacker.sendRaw(Self.frames(Self.request("SEARCH", HistoryQuery(query: "w* w*")), times: 500))
                attackers.append(attacker)
            }
            // The first attacker's first answer shows the searches are being read and queued.
            _ = try await attackers[0].next(timeout: .seconds(60)) { $0.extensionValue("SEARCH") != nil }
            let longest = try await Self.freshLogins(10, on: server)
            // The last attacker's searches, at the end of the queue, are still waiting.
            let answered = await attackers[9].pendingFrames().filter { $0.frame.extensionValue("SEARCH") != nil }.count
            #expect(answered < 500, "the searches were all answered before the logins completed")
            print("loginsHaveThreadsNoRequestCanTake: longest login \(longest), last attacker's searches answered by then: \(answered)")
        }
    }

    // MARK: - Each defence

    @Test func aPrefixNeedsThreeLettersBeforeTheStar() async throws {
        #expect(SessionHandler.shortPrefix(in: ["w*"], minimum: 3) == "w*")
        #expect(SessionHandler.shortPrefix(in: ["hello", "wo**"], minimum: 3) == "wo**")
        #expect(SessionHandler.shortPrefix(in: ["foo.w*"], minimum: 3) == "foo.w*")
        #expect(SessionHandler.shortPrefix(in: ["wor*", "w", "x"], minimum: 3) == nil)
        #expect(SessionHandler.shortPrefix(in: ["żół*"], minimum: 3) == nil)
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.say("wonderful words", as: "alice")
            _ = try await alice.nextMessages()
            try await alice.send(Self.request("SEARCH", HistoryQuery(query: "w*")))
            #expect(try await alice.nextError() == "Search words ending in * need at least 3 letters before the *: w* would match too many words.")
            try await alice.say("/Search wo*", as: "alice")
            #expect(try await alice.nextError().hasPrefix("Search words ending in * need at least 3 letters"))
            try await alice.send(Self.request("SEARCH", HistoryQuery(query: "won*")))
            let reply = try await alice.next { $0.extensionValue("SEARCH") != nil }.frame
            #expect(reply.messages?.map(\.content) == ["wonderful words"])
        }
    }

    /// Ten requests in one write with two allowed at once: eight are answered busy at once.
    @Test func requestsBeyondTheUsersShareAreAnsweredBusy() async throws {
        try await TestServer.with(configure: { $0.limits.requestsInFlight = 2 }) { server in
            let alice = try await server.login("alice")
            try await alice.sendRaw(Self.frames(Self.request("HISTORY", HistoryQuery(limit: 5)), times: 10))
            var pages = 0, busy = 0
            while pages + busy < 10 {
                let frame = try await alice.next()
                if frame.extensionValue("HISTORY") != nil { pages += 1 }
                if let error = frame.error {
                    #expect(error == "Busy: your last 2 searches, history pages or file listings are still being answered; try again once they are.")
                    busy += 1
                }
            }
            #expect(pages == 2 && busy == 8)
        }
    }

    /// A user whose requests have used their time is answered busy until it accrues again.
    @Test func requestsAreChargedTheTimeTheyTook() async throws {
        try await TestServer.with(configure: {
            $0.limits.requestsInFlight = 10
            // A microsecond a second: however slowly the test runs, what the first page cost
            // does not accrue again before the second is asked for.
            $0.limits.requestTimePerSecond = .microseconds(1)
            $0.limits.requestTimeBurst = .milliseconds(1)
        }) { server in
            let alice = try await server.login("alice")
            for index in 0..<20 { try await alice.say("message \(index)", as: "alice") }
            try await alice.send(Self.request("HISTORY", HistoryQuery(limit: 200)))
            _ = try await alice.next { $0.extensionValue("HISTORY") != nil }
            try await alice.send(Self.request("HISTORY", HistoryQuery(limit: 200)))
            let refusal = try await alice.next { $0.error != nil }.frame.error!
            #expect(refusal.hasPrefix("Busy: your searches, history pages and file listings have used the server time allowed for now; try again in "))
        }
    }

    /// The store stops a query past its time limit, and the user hears why.
    @Test func aQueryPastItsTimeLimitIsStopped() async throws {
        let directory = TemporaryDirectory()
        try ShutdownTests.fill(directory.path + "/chatterbox.sqlite")
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        // Every message matches and none may be seen (their senders are all excluded): the
        // query walks all 20,000, row by row.
        let request = PageRequest(
            userKey: "reader", excludedSenders: Set((0..<50).map { "user\($0)" }), before: Int64.max,
            throughSequence: Int64.max, limit: 50, words: ["whale"], timeLimit: .nanoseconds(1))
        #expect(throws: StoreError.timeLimitExceeded(.nanoseconds(1))) { try store.page(request) }
        var unlimited = request
        unlimited.timeLimit = .seconds(60)
        #expect(try store.page(unlimited).messages.isEmpty)
        try store.close()

        try await TestServer.with(dataDirectory: directory.path, configure: { $0.limits.queryTimeLimit = .nanoseconds(1) }) { server in
            let alice = try await server.login("alice")
            try await alice.send(Self.request("HISTORY", HistoryQuery(limit: 200)))
            #expect(try await alice.nextError() == "The history page took longer than 0 ms to load and was stopped; please try again.")
        }
    }
}
