import ChatCompression
import ChatProtocol
import ChatServer
import ChatTestSupport
import NIOCore
import Testing

/// Feature `deflate` over real TLS: compressed where it pays, only for clients that asked.
@Suite struct CompressionTests {
    static let longText = (1...30).map { "Line \($0): the release train leaves at five, please merge your fixes before the freeze." }.joined(separator: "\n")

    @Test func framesAreCompressedOnlyForClientsThatAskedAndOnlyWhereItPays() async throws {
        try await TestServer.with { server in
            let plain = try await server.login("plain")
            let modern = try await server.connect()
            var login = Frame(username: "modern")
            login.features = ["deflate"]
            try await modern.send(login)
            let accepted = try await modern.nextDecoded()
            #expect(accepted.frame.usernameAccepted == true)
            #expect(accepted.frame.features == ["deflate"])
            #expect(accepted.compressedLength == nil, "the acceptance itself is plain JSON")
            // A second client that asked: the broadcast's compressed form is shared on a loop.
            let other = try await server.connect()
            var otherLogin = Frame(username: "other")
            otherLogin.features = ["deflate"]
            try await other.send(otherLogin)
            _ = try await other.next { $0.usernameAccepted == true }
            _ = try await modern.next { $0.usersJoined == ["other"] }

            // A long message from the modern client, sent compressed.
            let message = ChatMessage(source: "modern", destination: "ALL", timestamp: 1_700_000_000, content: Self.longText)
            try await modern.send(Frame(messages: [message]), compress: true)
            let echo = try await modern.nextDecoded()
            #expect(echo.frame.messages == [message])
            let wire = try #require(echo.compressedLength)
            #expect(wire < Self.longText.utf8.count / 3)
            let alsoCompressed = try await other.nextDecoded()
            #expect(alsoCompressed.frame.messages == [message])
            #expect(alsoCompressed.compressedLength == wire)
            let relayed = try await plain.next { $0.messages != nil }
            #expect(relayed.frame.messages == [message])
            #expect(await plain.pendingFrames().allSatisfy { $0.compressedLength == nil })

            // A short one is not worth it.
            try await plain.say("short", as: "plain")
            let short = try await modern.nextDecoded()
            #expect(short.frame.messages?.first?.content == "short")
            #expect(short.compressedLength == nil)
        }
    }

    @Test func aCompressedFrameFromAClientThatDidNotAskIsInvalidJSON() async throws {
        try await TestServer.with { server in
            let plain = try await server.login("plain")
            let message = ChatMessage(source: "plain", destination: "ALL", timestamp: 1, content: Self.longText)
            try await plain.send(Frame(messages: [message]), compress: true)
            #expect(try await plain.nextError().hasPrefix("Frame is not valid JSON"))
        }
    }

    @Test func corruptDataIsAnErrorAndABombClosesTheConnection() async throws {
        try await TestServer.with(configure: { $0.maximumFrameLength = 8_192 }) { server in
            let client = try await server.connect()
            var login = Frame(username: "modern")
            login.features = ["deflate"]
            try await client.send(login)
            _ = try await client.next { $0.usernameAccepted == true }
            var corrupt = ByteBuffer()
            corrupt.writeInteger(UInt32(5))
            corrupt.writeBytes([0, 0xFF, 0xFE, 0x01, 0x02])
            try await client.sendRaw(corrupt)
            #expect(try await client.nextError() == "Frame not read: the compressed frame is not valid deflate data.")

            // 200 kB of JSON in a frame of a few hundred bytes, against a limit of 8 kB.
            let bomb = ChatMessage(source: "modern", destination: "ALL", timestamp: 1, content: String(repeating: "a", count: 200_000))
            try await client.send(Frame(messages: [bomb]), compress: true)
            let last = try await client.waitForClose()
            #expect(last.compactMap(\.error) == ["Compressed frame inflates beyond the maximum of 8192 bytes. Closing the connection."])
        }
    }
}
