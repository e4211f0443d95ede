import ChatClient
import ChatProtocol
import NIOCore
import ChatTestSupport
import Testing

@Suite struct InvalidInputTests {
    @Test(arguments: [
        ("not json at all", "not valid JSON"),
        ("[1, 2, 3]", "must be a JSON object"),
        (#""USERNAME""#, "must be a JSON object"),
        ("{}", "Empty frame"),
        (#"{"FOO": 1}"#, "unknown key"),
        (#"{"USERNAME": 42}"#, "USERNAME must be a string"),
        (#"{"MESSAGES": [["a", "ALL", 1, "x"]]}"#, "Log in first"),
        (#"{"USERNAME": "a", "USERNAME": "b"}"#, "duplicate key"),
        (String(repeating: "[", count: 10_000), "nested deeper"),
    ])
    func badFramesBeforeLoginGetAnErrorAndTheConnectionStays(json: String, expected: String) async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            try await client.sendJSON(json)
            let error = try await client.nextError()
            #expect(error.contains(expected), "\(error)")
            // Still usable: the login works afterwards.
            #expect(try await client.login("survivor").usernameAccepted == true)
        }
    }

    @Test func invalidUTF8IsRefused() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            var frame = ByteBuffer()
            let payload: [UInt8] = Array(#"{"USERNAME": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
            frame.writeInteger(UInt32(payload.count))
            frame.writeBytes(payload)
            try await client.sendRaw(frame)
            #expect(try await client.nextError().contains("UTF-8"))
        }
    }

    @Test func malformedMessagesAreReportedAndTheValidOnesStillDelivered() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.sendJSON(#"""
                {"MESSAGES": [["alice", "ALL", 1.5, "float time"], ["alice", "ALL", 5, "good"], ["alice", "ALL"], "junk"]}
                """#)
            let error = try await alice.nextError()
            #expect(error.contains("MESSAGES[0]") && error.contains("TIMESTAMP"))
            #expect(error.contains("MESSAGES[2]") && error.contains("MESSAGES[3]"))
            #expect(try await alice.nextMessages().map(\.content) == ["good"])
        }
    }

    @Test func loggingInTwiceOnOneConnectionIsAnError() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.send(Frame(username: "again"))
            #expect(try await alice.nextError().contains("already logged in"))
        }
    }

    @Test func serverOnlyKeysFromAClientAreRefused() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            try await alice.send(Frame(usersJoined: ["ghost"]))
            #expect(try await alice.nextError().contains("USERS_JOINED is sent by servers"))
        }
    }

    @Test func overlongContentIsRefused() async throws {
        try await TestServer.with(configure: { $0.maximumContentBytes = 100 }) { server in
            let alice = try await server.login("alice")
            try await alice.say(String(repeating: "x", count: 101), as: "alice")
            #expect(try await alice.nextError() == "Message not sent: it is longer than the limit of 100 bytes.")
            try await alice.say(String(repeating: "y", count: 100), as: "alice")
            #expect(try await alice.nextMessages().first?.content.count == 100)
        }
    }

    @Test func oversizedDeclaredLengthGetsAnErrorAndTheConnectionIsClosed() async throws {
        try await TestServer.with(configure: { $0.maximumFrameLength = 4096 }) { server in
            let alice = try await server.login("alice")
            var header = ByteBuffer()
            header.writeInteger(UInt32(1 << 30))  // claims 1 GiB, sends nothing more
            try await alice.sendRaw(header)
            let frames = try await alice.waitForClose()
            #expect(frames.contains { $0.error?.contains("exceeds the maximum of 4096 bytes") == true })
        }
    }

    @Test func framesSplitIntoSingleBytesAndCoalescedFramesBothWork() async throws {
        try await TestServer.with { server in
            let client = try await server.connect()
            let login = FrameCoding.encode(Frame(username: "splitter"))
            for index in 0..<login.readableBytes {
                try await client.sendRaw(login.getSlice(at: login.readerIndex + index, length: 1)!)
            }
            #expect(try await client.next { $0.usernameAccepted != nil }.frame.usernameAccepted == true)
            var both = FrameCoding.encode(Frame(messages: [ChatMessage(source: "splitter", destination: "ALL", timestamp: 1, content: "one")]))
            var second = FrameCoding.encode(Frame(messages: [ChatMessage(source: "splitter", destination: "ALL", timestamp: 2, content: "two")]))
            both.writeBuffer(&second)
            try await client.sendRaw(both)
            var contents: [String] = []
            while contents.count < 2 { contents += try await client.nextMessages().map(\.content) }
            #expect(contents == ["one", "two"])
        }
    }
}
