import ChatTerminal
import Testing

@Suite struct TextWrapperTests {
    private func wrap(_ text: String, _ width: Int, first: Int? = nil) -> [String] {
        TextWrapper.wrap([Span(text, .plain)], width: width, firstWidth: first).map { $0.map(\.text).joined() }
    }

    @Test func breaksAtSpaces() {
        #expect(wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"])
    }

    @Test func breaksInsideAWordOnlyWhenItIsTooLong() {
        #expect(wrap("abcdefghijklmnop qr", 6) == ["abcdef", "ghijkl", "mnop", "qr"])
    }

    @Test func lineBreaksStartNewRows() {
        #expect(wrap("one\ntwo\n\nthree", 20) == ["one", "two", "", "three"])
    }

    @Test func doubleWidthCharactersDoNotStraddleTheEdge() {
        let rows = wrap("中文中文中文", 5)
        #expect(rows == ["中文", "中文", "中文"])
        #expect(rows.allSatisfy { DisplayWidth.of($0) <= 5 })
    }

    @Test func theFirstRowMayBeNarrower() {
        #expect(wrap("aaa bbb ccc ddd", 8, first: 4) == ["aaa", "bbb ccc", "ddd"])
    }

    @Test func stylesSurviveWrapping() {
        let rows = TextWrapper.wrap([Span("[DM] ", .directTag), Span("hello there", .highlightText)], width: 10)
        #expect(rows == [[Span("[DM] ", .directTag), Span("hello", .highlightText)], [Span("there", .highlightText)]])
    }

    @Test func truncation() {
        #expect(TextWrapper.truncate([Span("ab", .plain), Span("中文", .bar)], width: 5) == [Span("ab", .plain), Span("中", .bar)])
    }
}
