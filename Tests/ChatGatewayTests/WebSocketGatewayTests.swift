import ChatGateway
import ChatProtocol
@testable import ChatServer
import ChatTestSupport
import NIOCore
import NIOWebSocket
import Testing

/// The browser gateway over real TLS on loopback: a WebSocket user and a chat-port user in the
/// same chat, and the chat port's limits on the WebSocket (issue 19).
@Suite("WebSocket gateway")
struct WebSocketGatewayTests {
    @Test("A WebSocket user and a TCP user see each other, broadcasts and direct messages both ways")
    func chatsWithTCPUser() async throws {
        try await GatewayFixture.with { fixture in
            let (alice, accepted) = try await fixture.webSocketUser("alice")
            #expect(accepted["USER_LIST"] as? [String] == ["alice"])
            #expect(accepted["SERVER_USER"] as? String == "Chatterbox")
            #expect((accepted["HISTORY"] as? [String: Any]) != nil)

            let bob = try await fixture.chat.login("bob")
            let joined = try await alice.next { $0["USERS_JOINED"] != nil }
            #expect(joined["USERS_JOINED"] as? [String] == ["bob"])

            alice.send(#"{"MESSAGES": [["alice", "ALL", 1700000000, "hello from the browser <b>"]]}"#)
            let received = try await bob.nextMessages()
            #expect(received.map(\.content) == ["hello from the browser <b>"])
            #expect(received.first?.source == "alice")
            // The sender's echo confirms it was stored.
            let echo = try await alice.next { $0["MESSAGES"] != nil }
            #expect(contents(in: echo) == ["hello from the browser <b>"])

            try await bob.say("psst", as: "bob", to: "alice")
            let direct = try await alice.next { $0["MESSAGES"] != nil }
            #expect(contents(in: direct) == ["psst"])
            #expect(messages(in: direct).first?[1] as? String == "alice")

            await alice.close()
            let left = try await bob.next { $0.usersLeft != nil }.frame
            #expect(left.usersLeft == ["alice"])
        }
    }

    @Test("History is shared: a WebSocket login replays what TCP users said")
    func sharedHistory() async throws {
        try await GatewayFixture.with { fixture in
            let bob = try await fixture.chat.login("bob")
            try await bob.say("said before", as: "bob")
            _ = try await bob.nextMessages()
            let (_, accepted) = try await fixture.webSocketUser("carol")
            #expect(contents(in: accepted) == ["said before"])
        }
    }

    @Test("Deflate is not offered over the WebSocket (text messages carry JSON only)")
    func noDeflate() async throws {
        try await GatewayFixture.with { fixture in
            let socket = try await fixture.webSocket()
            socket.send(#"{"USERNAME": "dora", "FEATURES": ["commands", "deflate", "history"]}"#)
            let reply = try await socket.next { $0["USERNAME_ACCEPTED"] != nil }
            #expect(reply["FEATURES"] as? [String] == ["commands", "history"])
        }
    }

    @Test("A fragmented text message is assembled into one frame")
    func fragmentedMessage() async throws {
        try await GatewayFixture.with { fixture in
            let socket = try await fixture.webSocket()
            let text = #"{"USERNAME": "erin"}"#
            let half = text.utf8.count / 2
            let bytes = Array(text.utf8)
            // The client masks each frame as it writes it.
            let first = WebSocketFrame(fin: false, opcode: .text, data: ByteBuffer(bytes: bytes[..<half]))
            let second = WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(bytes: bytes[half...]))
            socket.send(frame: first)
            socket.send(frame: second)
            let reply = try await socket.next { $0["USERNAME_ACCEPTED"] != nil }
            #expect(reply["USERNAME_ACCEPTED"] as? Bool == true)
        }
    }

    @Test("Invalid JSON gets the chat port's ERROR and the connection stays open")
    func invalidJSON() async throws {
        try await GatewayFixture.with { fixture in
            let socket = try await fixture.webSocket()
            socket.send("{not json")
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect((error["ERROR"] as? String)?.hasPrefix("Frame is not valid JSON") == true)
            socket.send(#"{"USERNAME": "fred"}"#)
            let reply = try await socket.next { $0["USERNAME_ACCEPTED"] != nil }
            #expect(reply["USERNAME_ACCEPTED"] as? Bool == true)
        }
    }
}

/// What the gateway refuses, and the chat port's limits applied to it.
@Suite("WebSocket gateway limits")
struct WebSocketGatewayLimitTests {
    @Test("A page of another origin may not open the WebSocket; the server's own origin may")
    func foreignOriginRefused() async throws {
        try await GatewayFixture.with { fixture in
            await #expect(throws: (any Error).self) {
                _ = try await fixture.webSocket(origin: "https://evil.example")
            }
            // The refusal as a plain request sees it.
            let answer = try await fixture.get("/ws", headers: [("Origin", "https://evil.example")])
            #expect(answer.status == 403)
            #expect(answer.body.contains("--http-allow-origin"))
            let own = try await fixture.webSocket(origin: "https://127.0.0.1:\(fixture.httpPort)")
            own.send(#"{"USERNAME": "gina"}"#)
            let reply = try await own.next { $0["USERNAME_ACCEPTED"] != nil }
            #expect(reply["USERNAME_ACCEPTED"] as? Bool == true)
        }
    }

    @Test("An origin added by the operator is allowed")
    func additionalOrigin() async throws {
        try await GatewayFixture.with(originPolicy: OriginPolicy(additionalOrigins: ["https://chat.example.com"])) { fixture in
            let socket = try await fixture.webSocket(origin: "https://chat.example.com")
            socket.send(#"{"USERNAME": "hank"}"#)
            let reply = try await socket.next { $0["USERNAME_ACCEPTED"] != nil }
            #expect(reply["USERNAME_ACCEPTED"] as? Bool == true)
            await #expect(throws: (any Error).self) {
                _ = try await fixture.webSocket(origin: "https://other.example.com")
            }
        }
    }

    @Test("A frame over the frame limit is refused with ERROR, before it is read, and the connection closed")
    func oversizeFrame() async throws {
        try await GatewayFixture.with(configure: { $0.maximumFrameLength = 4096 }) { fixture in
            let socket = try await fixture.webSocket()
            socket.send(#"{"USERNAME": "ivy", "PADDING": ""# + String(repeating: "x", count: 6000) + #""}"#)
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect(error["ERROR"] as? String == "WebSocket frame exceeds the maximum of 4096 bytes. Closing the connection.")
            let close = try await socket.waitForClose()
            #expect(close?.closeCode == .messageTooLarge)
        }
    }

    @Test("A fragmented message over the frame limit is refused too")
    func oversizeFragmentedMessage() async throws {
        try await GatewayFixture.with(configure: { $0.maximumFrameLength = 4096 }) { fixture in
            let socket = try await fixture.webSocket()
            for index in 0..<3 {
                let frame = WebSocketFrame(fin: false, opcode: index == 0 ? .text : .continuation,
                                           data: ByteBuffer(repeating: UInt8(ascii: "x"), count: 3000))
                socket.send(frame: frame)
            }
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect((error["ERROR"] as? String)?.contains("exceeds the maximum of 4096 bytes") == true)
            _ = try await socket.waitForClose()
        }
    }

    @Test("A binary message is refused with ERROR and the connection closed")
    func binaryMessage() async throws {
        try await GatewayFixture.with { fixture in
            let socket = try await fixture.webSocket()
            socket.send(frame: WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(string: #"{"USERNAME": "jo"}"#)))
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect((error["ERROR"] as? String)?.contains("text message") == true)
            let close = try await socket.waitForClose()
            #expect(close?.closeCode == .unacceptableData)
        }
    }

    @Test("The login deadline applies")
    func loginDeadline() async throws {
        try await GatewayFixture.with(configure: { $0.limits.loginTimeout = .seconds(1) }) { fixture in
            let socket = try await fixture.webSocket()
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect((error["ERROR"] as? String)?.hasPrefix("Login timed out") == true)
            _ = try await socket.waitForClose()
        }
    }

    @Test("The message rate applies")
    func messageRate() async throws {
        try await GatewayFixture.with(configure: {
            $0.limits.messagesPerSecond = 0.5
            $0.limits.messageBurst = 2
        }) { fixture in
            let (socket, _) = try await fixture.webSocketUser("kim")
            let batch = (1...5).map { #"["kim", "ALL", 1700000000, "m\#($0)"]"# }.joined(separator: ",")
            socket.send(#"{"MESSAGES": [\#(batch)]}"#)
            let error = try await socket.next { $0["ERROR"] != nil }
            #expect((error["ERROR"] as? String)?.hasPrefix("Slow down: 3 messages were not sent") == true)
        }
    }

    @Test("Connections per address count WebSockets and the chat port together, by the TCP peer's address")
    func connectionsPerAddress() async throws {
        try await GatewayFixture.with(configure: {
            $0.limits.connectionsPerAddress = 1
            $0.limits.connectionLimitExemptions = []
        }) { fixture in
            let (first, _) = try await fixture.webSocketUser("lee")
            let second = try await fixture.webSocket()
            let refused = try await second.next { $0["ERROR"] != nil }
            #expect((refused["ERROR"] as? String)?.hasPrefix("Connection refused:") == true)
            _ = try await second.waitForClose()
            // The chat port sees the same address (127.0.0.1) as taken.
            let tcp = try await fixture.chat.connect()
            let tcpRefusal = try await tcp.nextError()
            #expect(tcpRefusal.hasPrefix("Connection refused:"))
            // Once the WebSocket closes, its place is free again.
            await first.close()
            var admitted = false
            for _ in 0..<200 where !admitted {
                let retry = try await fixture.webSocket()
                retry.send(#"{"USERNAME": "lee"}"#)
                let reply = try await retry.next { $0["USERNAME_ACCEPTED"] != nil || $0["ERROR"] != nil }
                admitted = reply["USERNAME_ACCEPTED"] as? Bool == true
                if !admitted {
                    await retry.close()
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(admitted)
        }
    }

    @Test("A banned address is refused on the WebSocket too, told the ban's time and reason")
    func bannedAddress() async throws {
        try await GatewayFixture.with { fixture in
            let reply = fixture.chat.server.administer("ban 127.0.0.1 1h testing the gateway", caller: "a test")
            #expect(reply.ok, "\(reply)")
            let socket = try await fixture.webSocket()
            let refused = try await socket.next { $0["ERROR"] != nil }
            // "1 hour", or a little less on a slow machine.
            let text = refused["ERROR"] as? String ?? ""
            #expect(text.hasPrefix("Connection refused: Your address is banned for another "), "\(text)")
            #expect(text.hasSuffix(". Reason: testing the gateway"), "\(text)")
            _ = try await socket.waitForClose()
        }
    }

    @Test("Stopping the server says goodbye to WebSocket users and closes their connections")
    func shutdownGoodbye() async throws {
        try await GatewayFixture.with { fixture in
            let (socket, _) = try await fixture.webSocketUser("mo")
            await fixture.chat.server.stop()
            let goodbye = try await socket.next { $0["INFO"] != nil }
            #expect(goodbye["INFO"] as? String == "The server is shutting down. Goodbye!")
            _ = try await socket.waitForClose()
        }
    }
}

/// The web client's files.
@Suite("Web client files")
struct WebClientFilesTests {
    @Test("The page and its files are served with a strict Content-Security-Policy")
    func strictPolicy() async throws {
        try await GatewayFixture.with { fixture in
            let page = try await fixture.get("/")
            #expect(page.status == 200)
            #expect(page.headers["Content-Type"].first == "text/html; charset=utf-8")
            let policy = try #require(page.headers["Content-Security-Policy"].first)
            #expect(policy.contains("script-src 'self'"))
            #expect(policy.contains("style-src 'self'"))
            #expect(policy.contains("default-src 'none'"))
            #expect(!policy.contains("unsafe"))
            #expect(page.headers["X-Content-Type-Options"].first == "nosniff")
            #expect(page.body.contains(#"<script src="/app.js" defer></script>"#))
            // Nothing inline that the policy would have to allow.
            #expect(!page.body.contains("<script>"))
            #expect(!page.body.contains(" style="))
            #expect(!page.body.contains(" onclick="))

            let script = try await fixture.get("/app.js")
            #expect(script.status == 200)
            #expect(script.headers["Content-Type"].first == "text/javascript; charset=utf-8")
            // Content goes into the page as text only.
            #expect(!script.body.contains("innerHTML"))
            #expect(!script.body.contains("insertAdjacentHTML"))
            #expect(!script.body.contains("document.write"))
            let style = try await fixture.get("/app.css")
            #expect(style.headers["Content-Type"].first == "text/css; charset=utf-8")
            #expect(style.body.contains("prefers-color-scheme: dark"))
            #expect(try await fixture.get("/icon.svg").status == 200)
            #expect(try await fixture.get("/nothing-here").status == 404)
        }
    }

    @Test("A plain request to /ws is told to upgrade")
    func plainRequestToSocket() async throws {
        try await GatewayFixture.with { fixture in
            let answer = try await fixture.get("/ws")
            #expect(answer.status == 426)
        }
    }
}
