import ChatProtocol
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {}} "#)
        let expected = JSONValue.object(JSONObject([
            .init(key: "a", value: .array([
                .integer(1), .integer(-2), .number(3.5), .number(1000), .bool(true), .bool(false), .null, .string("x"),
            ])),
            .init(key: "b", value: .object(JSONObject())),
        ]))
        #expect(value == expected)
    }

    @Test(arguments: [2, 7, 8, 9, 40])
    func duplicateKeysAreRefusedInSmallAndLargeObjects(members: Int) throws {
        // Every position of the repeated key: among the first members (found by a scan) and
        // past them (found by a set).
        for repeated in 0..<members {
            var pairs = (0..<members).map { "\"k\($0)\": \($0)" }
            pairs.append("\"k\(repeated)\": 0")
            let error = parseError(Array(("{" + pairs.joined(separator: ",") + "}").utf8))
            #expect(error?.reason == "duplicate key \"k\(repeated)\"", "\(members) members, k\(repeated) repeated")
        }
        let distinct = "{" + (0..<members).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        guard case .object(let object) = try parse(distinct) else {
            Issue.record("not an object")
            return
        }
        #expect(object.members.count == members)
    }

    @Test func keepsMemberOrder() throws {
        guard case .object(let object) = try parse(#"{"z":1,"a":2,"m":3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(object.members.map(\.key) == ["z", "a", "m"])
        #expect(object["a"] == .integer(2))
    }

    @Test func distinguishesIntegersFromOtherNumbers() throws {
        #expect(try parse("1700000000") == .integer(1_700_000_000))
        #expect(try parse("1700000000.0") == .number(1_700_000_000))
        #expect(try parse("-0") == .integer(0))
        #expect(try parse("9223372036854775807") == .integer(.max))
        // Too big for Int64: still a number, not an error.
        #expect(try parse("9223372036854775808") == .number(9_223_372_036_854_775_808))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\r\b\f""#) == .string("a\"b\\c/d\n\t\r\u{08}\u{0C}"))
        #expect(try parse(#""\u00e9\u4e2d""#) == .string("é中"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse("\"é😀\"") == .string("é😀"))
    }

    @Test(arguments: [
        "", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "1e", "-", "+1",
        "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "[1] [2]", "{\"a\":1,\"a\":2}", "NaN", "Infinity", "1e400", "'a'",
    ])
    func rejectsMalformedJSON(text: String) {
        #expect(parseError(Array(text.utf8)) != nil, "accepted \(text)")
    }

    @Test func rejectsRawControlCharactersInStrings() {
        #expect(parseError(Array("\"a\nb\"".utf8))?.reason.contains("control character") == true)
    }

    @Test(arguments: [
        [0x22, 0xFF, 0x22],  // invalid byte
        [0x22, 0xC3, 0x22],  // truncated sequence
        [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-8 encoded surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // beyond U+10FFFF
    ] as [[UInt8]])
    func rejectsInvalidUTF8(bytes: [UInt8]) {
        #expect(parseError(bytes)?.reason == "string is not valid UTF-8")
    }

    @Test func capsNestingDepth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(parseError(Array(deep.utf8))?.reason.contains("nested deeper") == true)
        let fine = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(throws: Never.self) { try parse(fine) }
    }

    @Test func reportsWhereTheProblemIs() {
        let error = parseError(Array(#"{"a": tru}"#.utf8))
        #expect(error?.offset == 6)
    }
}
