import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct LoginTests {
    @Test func acceptsALoginWithUserListAndTellsOthers() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let bob = try await server.connect()
            let reply = try await bob.login("bob")
            #expect(reply.usernameAccepted == true)
            #expect(reply.info?.isEmpty == false)
            #expect(reply.userList == ["alice", "bob"])
            #expect(reply.messages == [])
            let joined = try await alice.next { $0.usersJoined != nil }.frame
            #expect(joined.usersJoined == ["bob"])
        }
    }

    @Test func refusesADuplicateNameCaseInsensitivelyAndLetsTheConnectionRetry() async throws {
        try await TestServer.with { server in
            _ = try await server.login("Alice")
            let second = try await server.connect()
            let refused = try await second.login("aLICE")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.contains("already in use") == true)
            #expect(refused.userList == nil)
            let retried = try await second.login("alice2")
            #expect(retried.usernameAccepted == true)
            #expect(retried.userList == ["Alice", "alice2"])
        }
    }

    @Test(arguments: ["", "ALL", "all", "Chatterbox", "two words", "tab\tname", String(repeating: "n", count: 33), "@at"])
    func refusesInvalidNames(name: String) async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let reply = try await client.login(name)
            #expect(reply.usernameAccepted == false)
            #expect(reply.info?.isEmpty == false)
        }
    }

    @Test func aNameIsFreeAgainOnceItsOwnerLeaves() async throws {
        try await TestServer.with { server in
            let observer = try await server.login("observer")
            let first = try await server.login("carol")
            _ = try await observer.next { $0.usersJoined == ["carol"] }
            await first.close()
            _ = try await observer.next { $0.usersLeft == ["carol"] }
            let again = try await server.connect()
            #expect(try await again.login("carol").usernameAccepted == true)
        }
    }

    @Test func negotiatesFeaturesOnlyWhenAsked() async throws {
        try await TestServer.with { server in
            let plain = try await server.connect()
            let plainReply = try await plain.login("plain")
            #expect(plainReply.extensions.isEmpty)
            let modern = try await server.connect()
            let modernReply = try await modern.login("modern", features: ["commands", "no-such-feature"])
            #expect(modernReply.features == ["commands"])
        }
    }

    @Test func worksOverPlainTCPWhenTLSIsOff() async throws {
        try await TestServer.with(tls: false) { server in
            let alice = try await server.login("alice")
            try await alice.say("plain hello", as: "alice")
            let messages = try await alice.nextMessages()
            #expect(messages.map(\.content) == ["plain hello"])
        }
    }
}
