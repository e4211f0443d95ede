import ChatClient
import Testing

@Suite struct TerminalSanitizerTests {
    @Test func ordinaryTextIsUnchanged() {
        #expect(TerminalSanitizer.sanitize("héllo wörld 😀 中文") == "héllo wörld 😀 中文")
    }

    @Test func escapeSequencesBecomeVisibleText() {
        // Clear screen, set title (OSC), move cursor: all shown, none executed.
        let attack = "\u{1B}[2J\u{1B}]0;pwned\u{07}\u{1B}[10;10H"
        let shown = TerminalSanitizer.sanitize(attack)
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(shown == "^[[2J^[]0;pwned^G^[[10;10H")
    }

    @Test func c1ControlsAndBidiOverridesAreNeutralised() {
        #expect(TerminalSanitizer.sanitize("a\u{9B}31mb") == "a<U+009B>31mb")
        #expect(TerminalSanitizer.sanitize("evil\u{202E}txt.exe") == "evil<U+202E>txt.exe")
        #expect(TerminalSanitizer.sanitize("\u{2066}x\u{2069}") == "<U+2066>x<U+2069>")
    }

    @Test func newlinesAreShownOrKept() {
        #expect(TerminalSanitizer.sanitize("one\ntwo\r") == "one^Jtwo^M")
        #expect(TerminalSanitizer.sanitize("one\ntwo", keepNewlines: true) == "one\ntwo")
        #expect(TerminalSanitizer.sanitize("tab\there") == "tab    here")
    }

    @Test func everyControlCharacterIsShownNotSent() {
        for value in UInt32(0)..<0x20 where value != 0x09 {
            let shown = TerminalSanitizer.sanitize("a" + String(Unicode.Scalar(value)!) + "b")
            #expect(shown.unicodeScalars.allSatisfy { $0.value >= 0x20 }, "U+\(value)")
        }
        #expect(TerminalSanitizer.sanitize("\u{0}\u{7F}") == "^@^?")
    }

    @Test func overwritingTricksAreVisible() {
        // A carriage return or backspaces would let text overwrite what came before it.
        #expect(TerminalSanitizer.sanitize("harmless\rEVIL") == "harmless^MEVIL")
        #expect(TerminalSanitizer.sanitize("ok\u{8}\u{8}no") == "ok^H^Hno")
    }

    @Test func everyBidiControlAndInvisibleSeparatorIsNamed() {
        let controls: [UInt32] = [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x061C, 0x2028, 0x2029, 0xFEFF]
        for value in controls {
            let shown = TerminalSanitizer.sanitize(String(Unicode.Scalar(value)!))
            #expect(shown.hasPrefix("<U+") && shown.hasSuffix(">"), "U+\(String(value, radix: 16))")
        }
    }

    @Test func c1ControlsIncludingTheEightBitCSIAreNamed() {
        for value in UInt32(0x80)..<0xA0 {
            #expect(TerminalSanitizer.sanitize(String(Unicode.Scalar(value)!)).hasPrefix("<U+00"))
        }
    }
}
