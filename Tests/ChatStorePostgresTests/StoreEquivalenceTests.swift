import ChatProtocol
import ChatStore
import ChatStorePostgres
import ChatStoreSQLite
import ChatTestSupport
import Testing

/// The two stores answer every history, page and search request alike: the same random chat is
/// stored in both, and hundreds of random requests are compared answer for answer.
@Suite struct StoreEquivalenceTests {
    /// A deterministic generator (SplitMix64), so a failure repeats.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let users = ["alice", "Bob", "carol", "dave", "Eve", "frank"]
    static let words = [
        "apple", "banana", "cherry", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "apricot", "bandana",
        "日本語も話せます", "日本", "bob@example.com", "Ünïcödé", "ＦＵＬＬ", "full-width", "ÉCHO",
    ]

    /// The newest `count` broadcasts of `stored`, as the server's window holds them.
    private func broadcastWindow(_ stored: [StoredMessage], newest count: Int) -> BroadcastWindow {
        let broadcasts = stored.filter(\.message.isBroadcast)
        return BroadcastWindow(messages: Array(broadcasts.suffix(count)), reachesBeginning: count >= broadcasts.count)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func historyPagesAndSearchesMatchTheEmbeddedStore(seed: UInt64) async throws {
        var random = Random(state: seed)
        var operations: [StoreOperation] = []
        for index in 0..<400 {
            let source = Self.users.randomElement(using: &random)!
            let destination = Int.random(in: 0..<10, using: &random) < 6 ? "ALL" : Self.users.randomElement(using: &random)!
            let content = (0..<Int.random(in: 1...5, using: &random)).map { _ in Self.words.randomElement(using: &random)! }.joined(separator: " ")
            operations.append(.message(ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000 + Int64(index), content: content)))
        }
        let directory = TemporaryDirectory()
        let sqlite = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        defer { try? sqlite.close() }
        try await TestDatabase.withStore { postgres in
            // The same batches to both: each store numbers them, and alike.
            var stored: [StoredMessage] = []
            for chunk in stride(from: 0, to: operations.count, by: 37) {
                let batch = Array(operations[chunk..<min(chunk + 37, operations.count)])
                let sequences = try await postgres.commit(batch)
                #expect(try sqlite.apply(batch) == sequences)
                for (operation, sequence) in zip(batch, sequences) {
                    guard case .message(let message) = operation else { continue }
                    stored.append(StoredMessage(sequence: sequence, message: message))
                }
            }
            let keys = Self.users.map(UsernameRules.key)
            for _ in 0..<120 {
                let user = keys.randomElement(using: &random)!
                let excluded = Set(keys.filter { $0 != user && Int.random(in: 0..<4, using: &random) == 0 })
                let through = Int64.random(in: 0...400, using: &random)
                // Sometimes the name changed hands: its direct messages before some point are not shown.
                let floor = Int.random(in: 0..<3, using: &random) == 0 ? Int64.random(in: 0...through, using: &random) : 0
                // Sometimes the server's window of recent broadcasts serves the broadcasts.
                let window = Int.random(in: 0..<3, using: &random) == 0 ? broadcastWindow(stored, newest: Int.random(in: 1...80, using: &random)) : nil
                let history = HistoryRequest(
                    userKey: user, excludedSenders: excluded, limit: Int.random(in: 1...60, using: &random), throughSequence: through,
                    pendingAfter: Int64.random(in: 0...through, using: &random), pendingLimit: Int.random(in: 1...20, using: &random),
                    recentBroadcasts: window, directMessagesAfter: floor)
                #expect(try await postgres.history(history) == (try sqlite.history(history)), "\(history)")

                var words: [String]?
                if Bool.random(using: &random) {
                    words = (0..<Int.random(in: 1...2, using: &random)).map { _ in
                        let word = Self.words.randomElement(using: &random)!
                        return Bool.random(using: &random) ? String(word.prefix(3)) + "*" : word
                    }
                }
                let page = PageRequest(
                    userKey: user, excludedSenders: excluded, before: Int64.random(in: 1...401, using: &random), throughSequence: through,
                    limit: Int.random(in: 1...30, using: &random), words: words, directMessagesAfter: floor)
                #expect(try await postgres.page(page) == (try sqlite.page(page)), "\(page)")
            }
        }
    }
}
