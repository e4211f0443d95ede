import ChatTerminal
import Testing

@Suite struct DisplayWidthTests {
    @Test(arguments: [
        ("hello", 5),
        ("日本語", 6),
        ("🎉", 2),
        ("e\u{301}", 1),            // e + combining acute: one column
        ("é", 1),
        ("한국어", 6),
        ("ｆｕｌｌ", 8),             // fullwidth Latin
        ("a\u{200B}b", 3),          // a zero-width space stands alone: shown as a dotted circle
        ("👨\u{200D}👩\u{200D}👧", 6), // a ZWJ sequence: as terminals count it, emoji by emoji
        ("", 0),
    ])
    func widthOfText(text: String, columns: Int) {
        #expect(DisplayWidth.of(text) == columns)
    }

    @Test func scalarWidths() {
        #expect(DisplayWidth.of(Unicode.Scalar("a")) == 1)
        #expect(DisplayWidth.of(Unicode.Scalar(0x4E2D)!) == 2)  // 中
        #expect(DisplayWidth.of(Unicode.Scalar(0x0301)!) == 0)
        #expect(DisplayWidth.of(Unicode.Scalar(0x1B)!) == -1)
    }

    @Test func unprintableCharactersAreDrawnAsReplacementCharacters() {
        let cells = TerminalCell.cells(for: "\u{1B}")
        #expect(cells == [TerminalCell(scalars: ["\u{FFFD}"], width: 1)])
        #expect(TerminalCell.cells(for: "\u{7F}") == [TerminalCell(scalars: ["\u{FFFD}"], width: 1)])
        #expect(DisplayWidth.of("a\u{1B}b") == 3)
    }

    @Test func aCombiningMarkWithNothingToCombineWithGetsADottedCircle() {
        let cells = TerminalCell.cells(for: Character("\u{301}"))
        #expect(cells == [TerminalCell(scalars: ["\u{25CC}", "\u{301}"], width: 1)])
    }

    @Test func zalgoMarksBeyondWhatACellHoldsAreDropped() {
        let zalgo = Character("a" + String(repeating: "\u{301}", count: 30))
        let cells = TerminalCell.cells(for: zalgo)
        #expect(cells.count == 1)
        #expect(cells[0].scalars.count == TerminalCell.maximumScalars)
        #expect(cells[0].width == 1)
    }

    @Test func wideCharactersAreOneCellOfTwoColumns() {
        #expect(TerminalCell.cells(for: "中") == [TerminalCell(scalars: ["中"], width: 2)])
    }
}
