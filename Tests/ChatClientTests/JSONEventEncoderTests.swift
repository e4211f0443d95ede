import ChatClient
import ChatProtocol
import ChatTestSupport
import Testing

@Suite struct JSONEventEncoderTests {
    private func lines(_ update: ClientUpdate) -> [String] {
        JSONEventEncoder.lines(for: update, host: "chat.example", port: 9000)
    }

    @Test func messagesCarryTheFourFieldsOfTheProtocol() {
        let message = ChatMessage(source: "bob", destination: "ALL", timestamp: 1_700_000_000, content: "hi")
        #expect(lines(.event(.message(message))) == [#"{"event":"message","from":"bob","to":"ALL","time":1700000000,"text":"hi"}"#])
        #expect(lines(.event(.history([message, message]))) == Array(repeating: #"{"event":"message","from":"bob","to":"ALL","time":1700000000,"text":"hi","history":true}"#, count: 2))
    }

    @Test func textIsExactAndPureASCII() {
        let message = ChatMessage(source: "mallory", destination: "alice", timestamp: 1, content: "\u{1B}[2J\u{202E}é\n😀\"")
        let line = lines(.event(.message(message)))[0]
        #expect(line == #"{"event":"message","from":"mallory","to":"alice","time":1,"text":"\u001b[2J\u202e\u00e9\n\ud83d\ude00\""}"#)
        #expect(line.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
    }

    @Test func presenceLoginAndProblems() {
        #expect(lines(.event(.welcome(info: "Welcome!", online: ["alice", "bob"]))) == [#"{"event":"welcome","text":"Welcome!","online":["alice","bob"]}"#])
        #expect(lines(.event(.joined("bob"))) == [#"{"event":"joined","user":"bob"}"#])
        #expect(lines(.event(.left("bob"))) == [#"{"event":"left","user":"bob"}"#])
        #expect(lines(.event(.loginRefused("taken"))) == [#"{"event":"username_refused","text":"taken"}"#])
        // Every event has a text.
        #expect(lines(.usernameNeeded(reason: nil)) == [#"{"event":"username_needed","text":"Type the username to log in with."}"#])
        #expect(lines(.event(.error("bad"))) == [#"{"event":"error","text":"bad"}"#])
        #expect(lines(.event(.info("note"))) == [#"{"event":"info","text":"note"}"#])
        #expect(lines(.status(ClientStatus(host: "h", port: 1, security: .plaintext))) == [])
    }

    @Test func connectionNews() {
        #expect(lines(.connection(.lost(reason: "The server closed the connection.", retryIn: .milliseconds(500)))) == [
            #"{"event":"disconnected","server":"chat.example:9000","reason":"The server closed the connection.","retry_in":0.5,"text":"The server closed the connection. Reconnecting in 0.5 s; what you type meanwhile is sent once you are back."}"#,
        ])
        let b = ServerEndpoint(host: "b.example", port: 9001)
        #expect(lines(.connection(.backOnline(username: "alice", missedMessages: 2, sentLines: 1, server: b))) == [
            #"{"event":"reconnected","user":"alice","server":"b.example:9001","missed":2,"sending":1,"text":"Back online as alice on b.example port 9001. 2 messages arrived while you were away (shown above). Sending the 1 line you typed meanwhile."}"#,
        ])
        #expect(lines(.connection(.queuedLinesSent(sent: 3, notSent: 0))) == [#"{"event":"queue_sent","sent":3,"not_sent":0,"text":"Sent the 3 lines you typed while disconnected."}"#])
        #expect(lines(.connection(.connected(server: ServerEndpoint(host: "127.0.0.1", port: 9000), address: "127.0.0.1:9000", security: .verifiedTLS))) == [
            #"{"event":"connected","server":"127.0.0.1:9000","address":"127.0.0.1:9000","security":"tls","text":"Connected to 127.0.0.1 port 9000 (TLS, certificate verified)."}"#,
        ])
        #expect(lines(.connection(.connected(server: ServerEndpoint(host: "::1", port: 9000), address: "[::1]:9000", security: .plaintext))).first?.hasPrefix(#"{"event":"connected","server":"[::1]:9000","address":"[::1]:9000","#) == true)
        #expect(lines(.connection(.connected(server: b, address: "192.0.2.8:9001", security: .verifiedTLS))).first?.contains(#""text":"Connected to b.example port 9001 at 192.0.2.8 (TLS, certificate verified)."}"#) == true)
        #expect(lines(.connection(.reconnecting(attempt: 2, server: b))) == [
            #"{"event":"reconnecting","attempt":2,"server":"b.example:9001","text":"Reconnecting to b.example port 9001 (attempt 2)\u2026"}"#,
        ])
        #expect(lines(.connection(.serverSkipped(server: b, address: "192.0.2.8:9001", reason: "Connection refused", next: ServerEndpoint(host: "c.example", port: 9002)))) == [
            #"{"event":"server_skipped","server":"b.example:9001","address":"192.0.2.8:9001","reason":"Connection refused","next":"c.example:9002","text":"Could not connect to b.example port 9001 at 192.0.2.8: Connection refused. Trying c.example port 9002\u2026"}"#,
        ])
        #expect(lines(.connection(.serverSkipped(server: b, address: nil, reason: "Cannot resolve 'b.example': Name or service not known", next: b))) == [
            #"{"event":"server_skipped","server":"b.example:9001","reason":"Cannot resolve 'b.example': Name or service not known","next":"b.example:9001","text":"Cannot resolve 'b.example': Name or service not known. Trying its next address\u2026"}"#,
        ])
    }

    @Test func aBotTalksThroughJSONLines() async throws {
        try await TestServer.with { server in
            let bob = try await server.login("bob")
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let client = JSONModeClient(.init(host: "127.0.0.1", port: server.port, security: server.security, initialUsername: "bot"))
            let running = Task { try await client.run(input: input) { output.append($0) } }
            try await output.waitFor(#"{"event":"welcome","text":"Welcome to Chatterbox, bot!"#)
            try await bob.say("hello bot", as: "bob")
            try await output.waitFor(#"{"event":"message","from":"bob","to":"ALL","time":1700000000,"text":"hello bot"}"#)
            typing.yield("@bob hello human")
            let dm = try await bob.next { $0.messages?.contains { $0.content == "hello human" } == true }
            #expect(dm.frame.messages?.first?.destination == "bob")
            typing.finish()
            #expect(try await running.value == .quit)
            #expect(output.all.last == #"{"event":"bye"}"#)
            // Every line is one JSON object.
            for line in output.all {
                let value = try line.utf8.withContiguousStorageIfAvailable { try JSONParser.parse(UnsafeRawBufferPointer($0)) }
                guard case .object? = value else {
                    Issue.record("not an object: \(line)")
                    continue
                }
            }
        }
    }
}
