import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct CommandTests {
    private func run(_ text: String, by client: TestClient, as name: String, to destination: String = "ALL") async throws -> [ChatMessage] {
        try await client.say(text, as: name, to: destination)
        return try await client.nextMessages()
    }

    @Test func everySeedCommandAnswersPrivatelyFromTheServer() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let old = try await server.login("oldtimer")
            await old.close()
            _ = try await alice.next { $0.usersLeft == ["oldtimer"] }
            let bob = try await server.login("bob")

            let help = try await run("/help", by: alice, as: "alice")
            #expect(help.allSatisfy { $0.source == "Chatterbox" && $0.destination == "alice" })
            let helpText = help.map(\.content).joined(separator: "\n")
            for command in ["/Help", "/Quit", "/Name", "/Block", "/UnBlock", "/Blocked", "/DisplayUsers", "/DisplayAllUsers"] {
                #expect(helpText.contains(command))
            }
            #expect(try await run("/Name", by: alice, as: "alice").first?.content == "You are logged in as alice.")
            let online = try await run("/DISPLAYUSERS", by: alice, as: "alice").first?.content ?? ""
            #expect(online.contains("alice") && online.contains("bob") && !online.contains("oldtimer"))
            let everyone = try await run("/DisplayAllUsers", by: alice, as: "alice").first?.content ?? ""
            #expect(everyone.contains("oldtimer") && everyone.contains("alice") && everyone.contains("bob"))
            #expect(try await run("/Blocked", by: alice, as: "alice").first?.content == "You have not blocked anyone.")
            // Commands addressed to the server's pseudo-user work too.
            #expect(try await run("/Name", by: alice, as: "alice", to: "Chatterbox").first?.content == "You are logged in as alice.")

            // None of that reached bob: the next thing he sees is this broadcast.
            try await alice.say("visible", as: "alice")
            #expect(try await bob.next { $0.messages != nil }.frame.messages?.map(\.content) == ["visible"])
        }
    }

    @Test func commandAnswersNeverOvertakeTheMessagesSentBeforeThem() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let batch = (1...20).map { ChatMessage(source: "alice", destination: "ALL", timestamp: Int64($0), content: "m\($0)") }
            try await alice.send(batch + [ChatMessage(source: "alice", destination: "ALL", timestamp: 21, content: "/Name")])
            var seen: [String] = []
            while seen.count < 21 { seen += try await alice.nextMessages().map(\.content) }
            #expect(seen == batch.map(\.content) + ["You are logged in as alice."])
        }
    }

    @Test func doubleSlashSendsLiteralText() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.say("//not a command", as: "alice")
            #expect(try await alice.nextMessages().map(\.content) == ["/not a command"])
            try await alice.say("/ shrug", as: "alice")
            #expect(try await alice.nextMessages().map(\.content) == ["/ shrug"])
        }
    }
}
