import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

/// What a restart keeps, on either store.
@Suite struct PersistenceTests {
    @Test(arguments: StoreBackend.allCases)
    func historyUsersAndBlocksSurviveARestart(backend: StoreBackend) async throws {
        try await backend.withStores { makeStore in
            let directory = TemporaryDirectory()
            try await TestServer.with(dataDirectory: directory.path, makeStore: makeStore) { server in
                let alice = try await server.login("alice")
                let bob = try await server.login("bob")
                try await alice.say("before restart", as: "alice", at: 10)
                try await alice.next { $0.messages?.first?.timestamp == 10 }
                try await bob.say("dm before restart", as: "bob", to: "alice", at: 11)
                try await alice.next { $0.messages?.first?.timestamp == 11 }
                try await alice.say("/Block bob", as: "alice")
                try await alice.next { $0.messages?.first?.source == "Chatterbox" }
            }
            try await TestServer.with(dataDirectory: directory.path, makeStore: makeStore) { server in
                let alice = try await server.connect()
                let reply = try await alice.login("alice")
                // bob's direct message is hidden now that alice blocks him.
                #expect(reply.messages?.map(\.content) == ["before restart"])
                try await alice.say("/Blocked", as: "alice")
                #expect(try await alice.nextMessages().first?.content.contains("bob") == true)
                try await alice.say("/DisplayAllUsers", as: "alice")
                let everyone = try await alice.nextMessages().first?.content ?? ""
                #expect(everyone.contains("alice") && everyone.contains("bob"))
                // bob is still known: a direct message to him is stored, not refused.
                try await alice.say("/UnBlock bob", as: "alice")
                _ = try await alice.nextMessages()
                try await alice.say("see you", as: "alice", to: "bob")
                #expect(try await alice.next { $0.info != nil }.frame.info?.contains("offline") == true)
                let bob = try await server.connect()
                let bobReply = try await bob.login("bob")
                #expect(bobReply.messages?.map(\.content) == ["before restart", "dm before restart", "see you"])
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func sequenceNumbersContinueAfterARestart(backend: StoreBackend) async throws {
        try await backend.withStores { makeStore in
            let directory = TemporaryDirectory()
            for round in 1...3 {
                try await TestServer.with(dataDirectory: directory.path, makeStore: makeStore) { server in
                    let client = try await server.connect()
                    let reply = try await client.login("writer")
                    #expect(reply.messages?.map(\.timestamp) == (1..<round).map(Int64.init))
                    try await client.say("round \(round)", as: "writer", at: Int64(round))
                    try await client.next { $0.messages?.first?.timestamp == Int64(round) }
                }
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func registeredNamesAndSearchSurviveARestart(backend: StoreBackend) async throws {
        try await backend.withStores { makeStore in
            let directory = TemporaryDirectory()
            try await TestServer.with(dataDirectory: directory.path, makeStore: makeStore) { server in
                let alice = try await server.login("alice", features: ["accounts", "history"])
                try await alice.say("/Register s3cret-pw", as: "alice")
                #expect(try await alice.nextMessages().first?.content.contains("Registered") == true)
                try await alice.say("the otters are back in the river", as: "alice", at: 20)
                try await alice.next { $0.messages?.first?.timestamp == 20 }
            }
            try await TestServer.with(dataDirectory: directory.path, makeStore: makeStore) { server in
                let stranger = try await server.connect()
                #expect(try await stranger.login("alice").usernameAccepted == false)
                let bob = try await server.login("bob", features: ["history"])
                try await bob.sendJSON(#"{"SEARCH": {"QUERY": "OTTER*"}}"#)
                #expect(try await bob.nextMessages().map(\.content) == ["the otters are back in the river"])
            }
        }
    }
}
