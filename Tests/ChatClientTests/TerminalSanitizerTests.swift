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
}
