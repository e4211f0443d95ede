import ChatProtocol
import NIOCore
import Testing

@Suite struct JSONWriterTests {
    private func written(_ string: String) -> String {
        var buffer = ByteBuffer()
        JSONWriter.writeString(string, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func plainASCIIIsWrittenAsIs() {
        #expect(written("hello, world") == #""hello, world""#)
    }

    @Test func escapesQuotesBackslashesAndControls() {
        #expect(written("a\"b\\c\nd\te\u{01}\u{7F}") == #""a\"b\\c\nd\te\u0001\u007f""#)
    }

    @Test func escapesEveryNonASCIICharacter() {
        #expect(written("é中") == #""\u00e9\u4e2d""#)
        #expect(written("😀") == #""\ud83d\ude00""#)
        #expect(written("\u{202E}") == #""\u202e""#)
    }

    @Test(arguments: ["", "plain", "é", "😀👍🏽", "mixed \"quotes\" and \\ and \u{0}", "\u{FFFF}\u{10FFFF}", "line\u{2028}sep"])
    func outputIsASCIIAndRoundTrips(original: String) throws {
        var buffer = ByteBuffer()
        JSONWriter.writeString(original, into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        #expect(try JSONParser.parse(bytes) == .string(original))
    }

    /// Sizes are counted without writing (to split a login's history into frames); the count
    /// must be exactly what is written, for every kind of character and timestamp.
    @Test func countedSizesAreTheWrittenSizes() {
        let pieces = ["a", "Z", " ", "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{C}", "\u{0}", "\u{1F}", "\u{7F}", "é", "中", "\u{FFFF}", "😀", "\u{10FFFF}", "🏽"]
        var generator = SystemRandomNumberGenerator()
        for round in 0..<500 {
            let length = round % 40
            let string = (0..<length).map { _ in pieces.randomElement(using: &generator)! }.joined()
            var buffer = ByteBuffer()
            JSONWriter.writeString(string, into: &buffer)
            #expect(JSONWriter.encodedSize(ofString: string) == buffer.readableBytes, "\(string.debugDescription)")

            let timestamp = Int64.random(in: Int64.min...Int64.max, using: &generator) >> Int64(round % 64)
            let message = ChatMessage(source: string, destination: "ALL", timestamp: timestamp, content: String(string.reversed()))
            var messageBuffer = ByteBuffer()
            FrameCoding.writeMessage(message, into: &messageBuffer)
            #expect(FrameCoding.encodedSize(of: message) == messageBuffer.readableBytes, "\(message)")
            let plain = ChatMessage(source: "alice", destination: "ALL", timestamp: timestamp, content: "plain \(round)")
            var plainBuffer = ByteBuffer()
            FrameCoding.writeMessage(plain, into: &plainBuffer)
            let parsed = try? JSONParser.parse(Array(plainBuffer.readableBytesView))
            #expect(parsed == .array([.string("alice"), .string("ALL"), .integer(timestamp), .string("plain \(round)")]), "\(timestamp)")
            #expect(FrameCoding.encodedSize(of: plain) == plainBuffer.readableBytes)
        }
        for value: Int64 in [0, 9, 10, 99, 100, -1, -9, -10, Int64.max, Int64.min, 1_700_000_000] {
            var buffer = ByteBuffer()
            JSONWriter.writeInteger(value, into: &buffer)
            #expect(JSONWriter.encodedSize(ofInteger: value) == buffer.readableBytes, "\(value)")
        }
    }

    @Test func writesNestedValuesThatParseBack() throws {
        let value = JSONValue.object(JSONObject([
            .init(key: "FEATURES", value: .array([.string("a"), .integer(-3), .bool(false), .null, .number(2.5)])),
            .init(key: "é", value: .object(JSONObject())),
        ]))
        var buffer = ByteBuffer()
        JSONWriter.writeValue(value, into: &buffer)
        #expect(try JSONParser.parse(Array(buffer.readableBytesView)) == value)
    }
}
