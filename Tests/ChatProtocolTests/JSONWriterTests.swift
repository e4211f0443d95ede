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
