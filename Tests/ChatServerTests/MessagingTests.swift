import ChatClient
import ChatProtocol
import NIOCore
import ChatTestSupport
import Testing

@Suite struct MessagingTests {
    @Test func broadcastReachesEveryoneIncludingTheSender() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            try await alice.say("hello everyone 😀 é", as: "alice", at: 1_700_000_123)
            let expected = ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_123, content: "hello everyone 😀 é")
            for client in [alice, bob, carol] {
                #expect(try await client.nextMessages() == [expected])
            }
        }
    }

    @Test func directMessageGoesToRecipientAndSenderOnly() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let eve = try await server.login("eve")
            try await alice.say("secret for bob", as: "alice", to: "bob")
            #expect(try await bob.nextMessages().map(\.content) == ["secret for bob"])
            #expect(try await alice.nextMessages().map(\.content) == ["secret for bob"])
            // A broadcast sent afterwards is the first message eve sees: the DM never reached her.
            try await alice.say("public", as: "alice")
            #expect(try await eve.nextMessages().map(\.content) == ["public"])
        }
    }

    @Test func destinationIsMatchedCaseInsensitivelyAndNormalised() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("Bob")
            try await alice.say("hi", as: "ALICE", to: "bOB")
            let received = try await bob.nextMessages()
            #expect(received == [ChatMessage(source: "alice", destination: "Bob", timestamp: 1_700_000_000, content: "hi")])
            try await alice.say("to all", as: "alice", to: "all")
            #expect(try await bob.nextMessages().map(\.destination) == ["ALL"])
        }
    }

    @Test func severalMessagesInOneFrameAreDeliveredInOrder() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let batch = (1...50).map { ChatMessage(source: "alice", destination: "ALL", timestamp: Int64($0), content: "m\($0)") }
            try await alice.send(batch)
            var received: [ChatMessage] = []
            while received.count < 50 { received += try await bob.nextMessages() }
            #expect(received == batch)
        }
    }

    @Test func spoofedSourceIsRefusedAndNotDelivered() async throws {
        try await TestServer.with { server in
            let mallory = try await server.login("mallory")
            let bob = try await server.login("bob")
            try await mallory.send([
                ChatMessage(source: "bob", destination: "ALL", timestamp: 1, content: "I am bob"),
                ChatMessage(source: "mallory", destination: "ALL", timestamp: 2, content: "honest"),
            ])
            let error = try await mallory.nextError()
            #expect(error.contains("SRC") && error.contains("bob"))
            // The honest message of the same frame still goes through, and is the first bob sees.
            #expect(try await bob.nextMessages().map(\.content) == ["honest"])
        }
    }

    @Test func directMessageToUnknownUserIsAnError() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.say("anyone?", as: "alice", to: "nobody")
            let error = try await alice.nextError()
            #expect(error.contains("nobody"))
        }
    }

    @Test func directMessageToOfflineUserWaitsForTheirNextLogin() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            await bob.close()
            _ = try await alice.next { $0.usersLeft == ["bob"] }
            try await alice.say("read this later", as: "alice", to: "bob")
            let (info, _) = try await alice.next { $0.info != nil }
            #expect(info.info?.contains("offline") == true)
            let back = try await server.connect()
            let reply = try await back.login("bob")
            #expect(reply.messages?.map(\.content) == ["read this later"])
            #expect(reply.info?.contains("1 direct message arrived while you were away") == true)
        }
    }

    @Test func joinsAndLeavesAreAnnouncedIncludingAbruptDisconnects() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            #expect(try await alice.next { $0.usersJoined != nil }.frame.usersJoined == ["bob"])
            await bob.close()  // no /Quit: the socket just goes away
            #expect(try await alice.next { $0.usersLeft != nil }.frame.usersLeft == ["bob"])
        }
    }

    @Test func quitCommandFromAPlainClientSaysGoodbyeAndCloses() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.say("/Quit", as: "alice")
            let frames = try await alice.waitForClose()
            #expect(frames.compactMap(\.messages).joined().contains { $0.source == "Chatterbox" && $0.content == "Goodbye!" })
        }
    }
}
