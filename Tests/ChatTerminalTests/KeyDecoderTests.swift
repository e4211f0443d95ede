import ChatTerminal
import Testing

@Suite struct KeyDecoderTests {
    private func keys(_ input: String, terminfo: [[UInt8]: Key] = [:]) -> [Key] {
        var decoder = KeyDecoder(terminfoKeys: terminfo)
        return decoder.feed(Array(input.utf8)) + decoder.flushPendingEscape()
    }

    @Test func textAndControlKeys() {
        #expect(keys("héllo 日本") == [.text("héllo 日本")])
        #expect(keys("\u{1}\u{5}\u{b}\u{15}\u{17}") == [.ctrl("a"), .ctrl("e"), .ctrl("k"), .ctrl("u"), .ctrl("w")])
        #expect(keys("\r\t\u{7F}\u{8}") == [.enter, .tab, .backspace, .backspace])
    }

    @Test func aCharacterSplitAcrossReadsIsJoined() {
        var decoder = KeyDecoder()
        let bytes = Array("日".utf8)
        #expect(decoder.feed(bytes.prefix(2)) == [])
        #expect(decoder.feed(bytes.suffix(1)) == [.text("日")])
    }

    @Test(arguments: [
        ("\u{1B}[A", Key.up), ("\u{1B}[B", .down), ("\u{1B}[C", .right), ("\u{1B}[D", .left),
        ("\u{1B}OA", .up), ("\u{1B}OD", .left), ("\u{1B}[H", .home), ("\u{1B}[F", .end),
        ("\u{1B}OH", .home), ("\u{1B}[1~", .home), ("\u{1B}[4~", .end), ("\u{1B}[7~", .home),
        ("\u{1B}[3~", .delete), ("\u{1B}[5~", .pageUp), ("\u{1B}[6~", .pageDown),
        ("\u{1B}OQ", .function(2)), ("\u{1B}[12~", .function(2)), ("\u{1B}[[B", .function(2)),
        ("\u{1B}[1;5D", .wordLeft), ("\u{1B}[1;5C", .wordRight), ("\u{1B}[1;3D", .altLeft), ("\u{1B}[1;3C", .altRight), ("\u{1B}[1;7D", .wordLeft), ("\u{1B}\u{1B}[D", .altLeft), ("\u{1B}\u{1B}[C", .altRight),
        ("\u{1B}Od", .wordLeft), ("\u{1B}[Z", .backTab),
    ])
    func escapeSequences(sequence: String, key: Key) {
        #expect(keys(sequence) == [key])
    }

    @Test func altKeys() {
        #expect(keys("\u{1B}b\u{1B}f\u{1B}u") == [.alt("b"), .alt("f"), .alt("u")])
        #expect(keys("\u{1B}\u{7F}") == [.alt("\u{7F}")])
    }

    @Test func aLoneEscapeWaitsForMore() {
        var decoder = KeyDecoder()
        #expect(decoder.feed([0x1B]) == [])
        #expect(decoder.hasPending)
        #expect(decoder.feed(Array("[A".utf8)) == [.up])
        #expect(decoder.feed([0x1B]) == [])
        #expect(decoder.flushPendingEscape() == [.escape])
        #expect(!decoder.hasPending)
    }

    @Test func terminfoKeyStringsComeFirst() {
        #expect(keys("\u{1B}[1;5D", terminfo: [Array("\u{1B}[1;5D".utf8): .home]) == [.home])
    }

    @Test func bracketedPasteIsTextEvenWhenItContainsKeys() {
        let pasted = "\u{1B}[200~line one\r\n\u{1B}[2J\u{3}line two\u{1B}[201~"
        #expect(keys("a" + pasted + "b") == [.text("a"), .paste("line one\r\n\u{1B}[2J\u{3}line two"), .text("b")])
    }

    @Test func aPasteMayArriveInPieces() {
        var decoder = KeyDecoder()
        #expect(decoder.feed(Array("\u{1B}[200~hel".utf8)) == [])
        #expect(decoder.feed(Array("lo\u{1B}[20".utf8)) == [])
        #expect(!decoder.hasPending, "no escape timeout inside a paste")
        #expect(decoder.feed(Array("1~x".utf8)) == [.paste("hello"), .text("x")])
    }

    @Test func unknownSequencesAreNotText() {
        let decoded = keys("\u{1B}[99~")
        #expect(decoded.count == 1)
        if case .unknown = decoded[0] {} else { Issue.record("expected unknown, got \(decoded)") }
    }
}
