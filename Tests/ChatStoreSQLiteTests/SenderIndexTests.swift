import ChatProtocol
import ChatStore
@testable import ChatStoreSQLite
import ChatTestSupport
import Testing

/// Messages are looked up by sender only for a user's own direct messages, so the sender
/// index holds only direct messages (a broadcast would cost a page write per sender and commit).
@Suite struct SenderIndexTests {
    private func message(_ sequence: Int64, from source: String, to destination: String) -> StoreOperation {
        .message(ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000 + sequence, content: "m\(sequence)"))
    }

    @Test func historyStillHasTheUsersOwnDirectMessagesAndUsesTheDirectIndex() throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? store.close() }
        try store.apply([
            message(1, from: "alice", to: "ALL"),
            message(2, from: "alice", to: "bob"),  // alice's own direct message
            message(3, from: "bob", to: "carol"),  // not alice's business
            message(4, from: "carol", to: "alice"),
            message(5, from: "alice", to: "alice"),  // to herself: listed once
            message(6, from: "bob", to: "ALL"),
        ])
        let history = try store.history(HistoryRequest(userKey: "alice", excludedSenders: [], limit: 100, throughSequence: 6, pendingAfter: 6))
        #expect(history.messages.map(\.sequence) == [1, 2, 4, 5, 6])

        let plan = try store.queryPlan(SQLiteChatStore.visibleHistorySQL(exclusion: ""), arguments: ["all", "6", "7", "alice", "0", "6", "7", "alice", "alice", "0", "6", "7", "7"])
        #expect(plan.contains { $0.contains("message_direct_by_src") }, "plan: \(plan)")
        #expect(!plan.contains { $0.contains("SCAN message") && !$0.contains("USING") }, "plan: \(plan)")
        #expect(try store.integrityCheck() == ["ok"])
    }
}
