import ChatProtocol
import ChatTestSupport
import Testing

/// Deliveries that meet in one outbox drain: broadcasts to the same list are gathered once for
/// every recipient, broadcasts to a filtered list (a block) and direct messages separately, and
/// every recipient must still get exactly its own messages in the server's one order.
@Suite struct GatheredDeliveryTests {
    private func message(_ content: String, from source: String, to destination: String = "ALL") -> ChatMessage {
        ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000, content: content)
    }

    @Test func messagesThatMeetInOneDrainReachTheRightPeopleInOneOrder() async throws {
        // A long gather window puts everything sent below into one drain.
        try await TestServer.with(configure: { $0.gatherWindow = .milliseconds(400) }) { server in
            let names = ["alice", "bob", "carol", "dave"]
            var clients: [String: TestClient] = [:]
            for name in names { clients[name] = try await server.login(name) }
            let alice = clients["alice"]!, bob = clients["bob"]!, carol = clients["carol"]!, dave = clients["dave"]!
            try await carol.say("/Block alice", as: "carol")
            let reply = try await carol.next { $0.messages?.first?.source == "Chatterbox" }.frame.messages
            #expect(reply?.first?.content.contains("You blocked alice") == true)

            try await bob.send([message("b1", from: "bob"), message("b2", from: "bob", to: "carol"), message("b3", from: "bob")])
            try await alice.send([message("a1", from: "alice"), message("a2", from: "alice")])
            try await bob.send([message("b4", from: "bob")])
            try await dave.send([message("d1", from: "dave")])

            let expected: [String: Set<String>] = [
                "alice": ["b1", "b3", "a1", "a2", "b4", "d1"],
                "bob": ["b1", "b2", "b3", "a1", "a2", "b4", "d1"],
                "carol": ["b1", "b2", "b3", "b4", "d1"],
                "dave": ["b1", "b3", "a1", "a2", "b4", "d1"],
            ]
            var received: [String: [String]] = [:]
            for name in names {
                var seen: [String] = []
                while seen.count < expected[name]!.count {
                    seen += try await clients[name]!.nextMessages().map(\.content)
                }
                received[name] = seen
                #expect(Set(seen) == expected[name]!, "\(name) got \(seen)")
                #expect(seen.count == expected[name]!.count, "\(name) got \(seen)")
            }
            // Each sender's messages in the order sent, wherever they arrive.
            for seen in received.values {
                let fromBob = seen.filter { $0.hasPrefix("b") }
                #expect(fromBob == fromBob.sorted(), "bob's messages out of order: \(seen)")
                #expect(seen.filter { $0.hasPrefix("a") } == seen.filter { $0.hasPrefix("a") }.sorted())
            }
            // One order for everyone: any two messages two clients both got come in the same order.
            let all = Array(received.values)
            for first in all {
                for second in all {
                    let shared = first.filter(second.contains)
                    #expect(shared == second.filter(first.contains), "orders differ: \(first) and \(second)")
                }
            }
            // Nothing more for anyone: a marker from dave is the next thing each client gets.
            try await dave.say("marker", as: "dave")
            for name in names {
                #expect(try await clients[name]!.nextMessages().map(\.content) == ["marker"])
            }
        }
    }
}
