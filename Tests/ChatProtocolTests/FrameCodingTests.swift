import ChatProtocol
import NIOCore
import Testing

@Suite struct FrameCodingTests {
    private func payload(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    @Test func encodesLengthPrefixAndKeysInProtocolOrder() {
        let frame = Frame(
            usernameAccepted: true, info: "Welcome!", userList: ["a", "b"],
            messages: [ChatMessage(source: "a", destination: "ALL", timestamp: 7, content: "hi")]
        )
        var buffer = FrameCoding.encode(frame)
        let length = buffer.readInteger(as: UInt32.self)
        let json = String(buffer: buffer)
        #expect(Int(length ?? 0) == json.utf8.count)
        #expect(json == #"{"USERNAME_ACCEPTED":true,"INFO":"Welcome!","USER_LIST":["a","b"],"MESSAGES":[["a","ALL",7,"hi"]]}"#)
    }

    @Test func emptyFrameIsAnEmptyObject() {
        var buffer = FrameCoding.encode(Frame())
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(String(buffer: buffer) == "{}")
    }

    @Test func roundTripsEveryKey() throws {
        let frame = Frame(
            username: "zoë", usernameAccepted: false, info: "i", userList: ["x"],
            messages: [
                ChatMessage(source: "zoë", destination: "ALL", timestamp: 1, content: "multi\nline 😀"),
                ChatMessage(source: "a", destination: "zoë", timestamp: 2, content: ""),
            ],
            usersJoined: ["j"], usersLeft: ["l"], error: "e",
            extensions: [.init(key: "FEATURES", value: .array([.string("commands")]))]
        )
        var buffer = FrameCoding.encode(frame)
        buffer.moveReaderIndex(forwardBy: 4)
        let decoded = try FrameCoding.decode(buffer)
        #expect(decoded.problems.isEmpty)
        #expect(decoded.frame == frame)
        #expect(decoded.frame.features == ["commands"])
    }

    @Test func refusesNonObjects() {
        #expect(throws: FrameDecodingError.notAnObject("an array")) { try FrameCoding.decode(payload("[1]")) }
        #expect(throws: FrameDecodingError.notAnObject("a string")) { try FrameCoding.decode(payload(#""USERNAME""#)) }
        #expect {
            try FrameCoding.decode(payload("{not json"))
        } throws: { error in
            if case FrameDecodingError.invalidJSON = error { return true }
            return false
        }
    }

    @Test func keepsValidMessagesAndReportsEachBadOne() throws {
        let decoded = try FrameCoding.decode(payload(#"""
            {"MESSAGES": [
                ["a", "ALL", 1, "ok"],
                ["a", "ALL", 1.5, "fractional"],
                ["a", "ALL", "1", "string time"],
                ["a", "ALL", 1],
                {"SRC": "a"},
                [1, "ALL", 1, "x"],
                ["a", null, 1, "x"],
                ["a", "ALL", 1, 5],
                ["a", "ALL", -1, "negative"],
                ["a", "b", 2, "also ok"]
            ]}
            """#))
        #expect(decoded.frame.messages?.map(\.content) == ["ok", "also ok"])
        #expect(decoded.problems == [
            "MESSAGES[1]: TIMESTAMP must be an integer (seconds since the epoch), got a number",
            "MESSAGES[2]: TIMESTAMP must be an integer (seconds since the epoch), got a string",
            "MESSAGES[3]: a message must have exactly 4 elements [SRC, DEST, TIMESTAMP, CONTENT], got 3",
            "MESSAGES[4]: a message must be an array [SRC, DEST, TIMESTAMP, CONTENT], got an object",
            "MESSAGES[5]: SRC must be a string, got an integer",
            "MESSAGES[6]: DEST must be a string, got null",
            "MESSAGES[7]: CONTENT must be a string, got an integer",
            "MESSAGES[8]: TIMESTAMP -1 is out of range (0...9007199254740991)",
        ])
    }

    @Test func lenientModeAcceptsFractionalAndStringTimestamps() throws {
        let decoded = try FrameCoding.decode(
            payload(#"{"MESSAGES": [["a","ALL",1700000000.9,"x"],["a","ALL","12","y"]], "ERROR": {"code": 1}}"#),
            strictness: .lenient
        )
        #expect(decoded.problems.isEmpty)
        #expect(decoded.frame.messages?.map(\.timestamp) == [1_700_000_000, 12])
        #expect(decoded.frame.error == #"{"code":1}"#)
    }

    @Test func lenientModeAcceptsBooleansWrittenAsStringsAndSaysSo() throws {
        for (text, flag) in [(#""true""#, true), (#""False""#, false), ("1", true), ("0", false)] {
            let decoded = try FrameCoding.decode(payload(#"{"USERNAME_ACCEPTED": "# + text + "}"), strictness: .lenient)
            #expect(decoded.frame.usernameAccepted == flag)
            #expect(decoded.problems.isEmpty)
            #expect(decoded.leniencies.count == 1)
        }
        // Not a boolean in any reading: a problem, as before.
        let unclear = try FrameCoding.decode(payload(#"{"USERNAME_ACCEPTED": "yes please"}"#), strictness: .lenient)
        #expect(unclear.frame.usernameAccepted == nil)
        #expect(unclear.problems == ["USERNAME_ACCEPTED must be true or false, got a string"])
        // The server stays strict.
        let strict = try FrameCoding.decode(payload(#"{"USERNAME_ACCEPTED": "true"}"#))
        #expect(strict.frame.usernameAccepted == nil)
        #expect(strict.leniencies.isEmpty)
    }

    @Test func reportsWrongTypesForKnownKeys() throws {
        let decoded = try FrameCoding.decode(payload(#"{"USERNAME": 5, "USER_LIST": ["a", 1], "MESSAGES": "hi", "X": 1}"#))
        #expect(decoded.frame.username == nil)
        #expect(decoded.frame.userList == ["a"])
        #expect(decoded.frame.messages == nil)
        #expect(decoded.frame.extensions.map(\.key) == ["X"])
        #expect(decoded.problems == [
            "USERNAME must be a string, got an integer",
            "USER_LIST[1] must be a string, got an integer",
            "MESSAGES must be an array of [SRC, DEST, TIMESTAMP, CONTENT] messages, got a string",
        ])
    }
}
