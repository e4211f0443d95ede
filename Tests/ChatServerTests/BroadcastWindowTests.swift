import ChatProtocol
@testable import ChatServer
import ChatStore
import ChatStoreSQLite
import ChatTestSupport
import Testing

/// A login's broadcasts come from the hub's window of recent broadcasts when it reaches back
/// far enough, and from the database otherwise: the history is the same either way.
@Suite struct BroadcastWindowTests {
    private static let users = ["alice", "bob", "carol", "dave"]

    /// 90 messages: mostly broadcasts, every fifth a direct message between two of the users.
    private func filledStore(in directory: borrowing TemporaryDirectory) throws -> SQLiteChatStore {
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        try store.apply((1...90).map { sequence -> StoreOperation in
            let source = Self.users[sequence % 4]
            let destination = sequence % 5 == 0 ? Self.users[(sequence / 5) % 4] : "ALL"
            return .message(ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000 + Int64(sequence), content: "m\(sequence)"))
        })
        return store
    }

    @Test func theWindowGivesTheHistoryTheDatabaseGives() throws {
        let directory = TemporaryDirectory()
        let store = try filledStore(in: directory)
        defer { try? store.close() }
        var windowsUsed = 0
        for user in Self.users + ["erin"] {
            for limit in [1, 4, 20, 200] {
                for excluded in [Set<String>(), ["bob"], ["bob", "carol"]] {
                    for through: Int64 in [90, 57] {
                        let plain = HistoryRequest(userKey: user, excludedSenders: excluded, limit: limit, throughSequence: through, pendingAfter: 40)
                        let expected = try store.history(plain)
                        // As the server holds it: the newest limit + 1 broadcasts of everyone.
                        let newest = try store.recentBroadcasts(limit: limit + 1).filter { $0.sequence <= through }
                        let all = try store.recentBroadcasts(limit: 1_000).filter { $0.sequence <= through }
                        for window in [
                            BroadcastWindow(messages: newest, reachesBeginning: newest.count == all.count),
                            BroadcastWindow(messages: all, reachesBeginning: true),
                        ] {
                            var windowed = plain
                            windowed.recentBroadcasts = window
                            if window.newest(limit + 1, through: through, excluding: excluded) != nil { windowsUsed += 1 }
                            #expect(try store.history(windowed) == expected, "\(user), limit \(limit), excluding \(excluded), through \(through)")
                        }
                    }
                }
            }
        }
        #expect(windowsUsed > 100, "the window was used in \(windowsUsed) cases")
    }

    @Test func aWindowThatReachesFarEnoughIsUsedAndOneThatDoesNotIsNot() throws {
        let directory = TemporaryDirectory()
        let store = try filledStore(in: directory)
        defer { try? store.close() }
        // A broadcast only the window knows of: it shows that the window was read.
        let onlyInMemory = StoredMessage(sequence: 91, message: ChatMessage(source: "bob", destination: "ALL", timestamp: 1_700_000_091, content: "only in memory"))
        let stored = try store.recentBroadcasts(limit: 5)
        let request = HistoryRequest(userKey: "alice", excludedSenders: [], limit: 5, throughSequence: 91, pendingAfter: 91)

        var enough = request
        enough.recentBroadcasts = BroadcastWindow(messages: stored + [onlyInMemory], reachesBeginning: false)
        #expect(try store.history(enough).messages.last == onlyInMemory)

        // Leaving bob out, the window holds too few of the others and does not reach back.
        var excluding = enough
        excluding.excludedSenders = ["bob"]
        #expect(try store.history(excluding).messages.contains(onlyInMemory) == false)
        var plainExcluding = request
        plainExcluding.excludedSenders = ["bob"]
        #expect(try store.history(excluding) == store.history(plainExcluding))
    }

    @Test func theNewestBroadcastsComeOldestFirst() throws {
        let directory = TemporaryDirectory()
        let store = try filledStore(in: directory)
        defer { try? store.close() }
        // 90 is a direct message.
        #expect(try store.recentBroadcasts(limit: 3).map { $0.sequence } == [87, 88, 89])
        #expect(try store.recentBroadcasts(limit: 1_000).count == 72)
    }

    @Test func theHubsWindowKeepsTheNewestAndKnowsWhenItReachesTheBeginning() {
        func broadcast(_ sequence: Int64) -> StoredMessage {
            StoredMessage(sequence: sequence, message: ChatMessage(source: "bob", destination: "ALL", timestamp: sequence, content: "m\(sequence)"))
        }
        // A store with two broadcasts in all: the window holds everything there is.
        var recent = RecentBroadcasts(historyLimit: 3, stored: [broadcast(1), broadcast(2)])
        #expect(recent.window == BroadcastWindow(messages: [broadcast(1), broadcast(2)], reachesBeginning: true))
        recent.append(broadcast(3))
        recent.append(broadcast(4))
        #expect(recent.window == BroadcastWindow(messages: [1, 2, 3, 4].map(broadcast), reachesBeginning: true))
        // Full (history limit 3, plus one): the oldest goes, and with it the beginning.
        recent.append(broadcast(5))
        #expect(recent.window == BroadcastWindow(messages: [2, 3, 4, 5].map(broadcast), reachesBeginning: false))
        // Nothing loaded: it cannot tell what is older until it is full.
        let fresh = RecentBroadcasts(historyLimit: 3, stored: nil)
        #expect(fresh.window.reachesBeginning == false)
        // The store had as many as the window holds: there may be older ones.
        let full = RecentBroadcasts(historyLimit: 3, stored: [1, 2, 3, 4].map(broadcast))
        #expect(full.window == BroadcastWindow(messages: [1, 2, 3, 4].map(broadcast), reachesBeginning: false))
        #expect(RecentBroadcasts.capacity(forHistoryLimit: 1_000) == 1_001)
        #expect(RecentBroadcasts.capacity(forHistoryLimit: 100_000) == 5_001)
    }
}
