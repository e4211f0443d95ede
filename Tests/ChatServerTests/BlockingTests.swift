import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct BlockingTests {
    /// Runs a command as a plain client would: as the CONTENT of a message to ALL.
    private func command(_ text: String, by client: TestClient, as name: String) async throws -> [String] {
        try await client.say(text, as: name)
        return try await client.next { $0.messages?.first?.source == "Chatterbox" || $0.error != nil }.frame.messages?.map(\.content) ?? []
    }

    @Test func blockStopsMessagesBothWaysAndUnblockRestoresThem() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            let reply = try await command("/Block bob", by: alice, as: "alice")
            #expect(reply.first?.contains("You blocked bob") == true)

            // bob → everyone: carol and bob see it, alice does not.
            try await bob.say("from bob", as: "bob")
            #expect(try await carol.nextMessages().map(\.content) == ["from bob"])
            #expect(try await bob.nextMessages().map(\.content) == ["from bob"])
            // alice → everyone: bob does not see it.
            try await alice.say("from alice", as: "alice")
            #expect(try await alice.nextMessages().map(\.content) == ["from alice"])
            #expect(try await carol.nextMessages().map(\.content) == ["from alice"])
            // Direct messages both ways are refused.
            try await bob.say("psst", as: "bob", to: "alice")
            #expect(try await bob.nextError().contains("not accepting messages"))
            try await alice.say("psst", as: "alice", to: "bob")
            #expect(try await alice.nextError().contains("/UnBlock bob"))
            // A marker from carol proves nothing else is queued for alice or bob.
            try await carol.say("marker", as: "carol")
            #expect(try await alice.nextMessages().map(\.content) == ["marker"])
            #expect(try await bob.nextMessages().map(\.content) == ["marker"])

            #expect(try await command("/Blocked", by: alice, as: "alice").first?.contains("bob") == true)
            #expect(try await command("/UnBlock bob", by: alice, as: "alice").first?.contains("You unblocked bob") == true)
            try await bob.say("again", as: "bob")
            #expect(try await alice.nextMessages().map(\.content) == ["again"])
        }
    }

    @Test func unblockingDoesNotOverrideTheOtherSidesBlock() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            _ = try await command("/Block bob", by: alice, as: "alice")
            _ = try await command("/Block alice", by: bob, as: "bob")
            let reply = try await command("/UnBlock bob", by: alice, as: "alice")
            #expect(reply.first?.contains("they block you") == true)
            try await alice.say("hello?", as: "alice", to: "bob")
            #expect(try await alice.nextError().contains("not accepting"))
        }
    }

    @Test func historyLeavesOutMessagesFromBlockedAndBlockingUsers() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            // Each waits for its echo, fixing the order.
            try await alice.say("by alice", as: "alice")
            try await alice.next { $0.messages?.first?.content == "by alice" }
            try await bob.say("by bob", as: "bob")
            try await bob.next { $0.messages?.first?.content == "by bob" }
            try await carol.say("by carol", as: "carol")
            try await carol.next { $0.messages?.first?.content == "by carol" }
            // carol blocks bob; alice is blocked by nobody.
            _ = try await command("/Block bob", by: carol, as: "carol")
            await carol.close()
            await bob.close()
            var left: Set<String> = []
            while left.count < 2 { left.formUnion(try await alice.next { $0.usersLeft != nil }.frame.usersLeft!) }
            let carol2 = try await server.connect()
            #expect(try await carol2.login("carol").messages?.map(\.content) == ["by alice", "by carol"])
            let bob2 = try await server.connect()
            #expect(try await bob2.login("bob").messages?.map(\.content) == ["by alice", "by bob"])
        }
    }

    @Test func blockCommandMistakesAreErrors() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            for (text, expected) in [
                ("/Block", "Usage: /Block <username>"),
                ("/Block nobody", "no user named nobody"),
                ("/Block alice", "cannot block yourself"),
                ("/Block two words", "Usage"),
                ("/frobnicate", "Type /Help"),
            ] {
                try await alice.say(text, as: "alice")
                let error = try await alice.nextError()
                #expect(error.contains(expected), "\(text) → \(error)")
            }
        }
    }
}
