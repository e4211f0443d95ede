import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct HistoryTests {
    @Test func historyHoldsPublicMessagesAndOwnDirectMessagesOldestFirst() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            // Each step waits for its own echo, so the server's order is the order written here.
            try await alice.say("one", as: "alice", at: 1)
            try await alice.next { $0.messages?.first?.timestamp == 1 }
            try await bob.say("two: bob to carol", as: "bob", to: "carol", at: 2)
            try await bob.next { $0.messages?.first?.timestamp == 2 }
            try await carol.say("three: carol to alice", as: "carol", to: "alice", at: 3)
            try await carol.next { $0.messages?.first?.timestamp == 3 }
            try await bob.say("four", as: "bob", at: 4)
            try await bob.next { $0.messages?.first?.content == "four" }

            let late = try await server.connect()
            let reply = try await late.login("dave")
            #expect(reply.messages?.map(\.content) == ["one", "four"])
            let alice2 = try await server.connect()
            await alice.close()
            _ = try await late.next { $0.usersLeft == ["alice"] }
            let aliceReply = try await alice2.login("alice")
            #expect(aliceReply.messages?.map(\.content) == ["one", "three: carol to alice", "four"])
            #expect(aliceReply.messages?.map(\.timestamp) == [1, 3, 4])
        }
    }

    @Test func historyIsCappedToTheMostRecentAndSaysSo() async throws {
        try await TestServer.with(configure: { $0.historyLimit = 10 }) { server in
            let alice = try await server.login("alice")
            try await alice.send((1...25).map { ChatMessage(source: "alice", destination: "ALL", timestamp: Int64($0), content: "m\($0)") })
            try await alice.next { $0.messages?.contains { $0.content == "m25" } == true }
            let bob = try await server.connect()
            let reply = try await bob.login("bob")
            #expect(reply.messages?.map(\.content) == (16...25).map { "m\($0)" })
            #expect(reply.info?.contains("most recent 10") == true)
        }
    }

    @Test func longHistoryIsSplitAcrossFramesWithinTheFrameLimit() async throws {
        try await TestServer.with(configure: {
            $0.maximumFrameLength = 2000
            $0.historyLimit = 100
        }) { server in
            let alice = try await server.login("alice")
            let text = String(repeating: "z", count: 150)
            for batch in stride(from: 1, through: 40, by: 5) {
                try await alice.send((batch..<batch + 5).map {
                    ChatMessage(source: "alice", destination: "ALL", timestamp: Int64($0), content: "\($0) \(text)")
                })
            }
            try await alice.next { $0.messages?.contains { $0.timestamp == 40 } == true }
            let bob = try await server.connect()
            let reply = try await bob.login("bob")
            var history = reply.messages ?? []
            while history.count < 40 { history += try await bob.nextMessages() }
            #expect(history.map(\.timestamp) == (1...40).map(Int64.init))
            #expect((reply.messages?.count ?? 0) < 40)
        }
    }

    @Test func messagesArrivingDuringLoginAreNeitherLostNorDuplicated() async throws {
        try await TestServer.with { server in
            let talker = try await server.login("talker")
            let sending = Task {
                for round in 0..<20 {
                    try await talker.send((0..<10).map {
                        ChatMessage(source: "talker", destination: "ALL", timestamp: Int64(round * 10 + $0), content: "n")
                    })
                }
            }
            let joiner = try await server.connect()
            let reply = try await joiner.login("joiner")
            try await sending.value
            var seen = reply.messages?.map(\.timestamp) ?? []
            while seen.count < 200 {
                seen += try await joiner.next { $0.messages != nil }.frame.messages!.map(\.timestamp)
            }
            #expect(seen == (0..<200).map(Int64.init))
        }
    }
}
