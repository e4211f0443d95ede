import ChatTerminal
import Testing

@Suite struct LineEditorTests {
    private func editor(_ text: String, cursor: Int? = nil) -> LineEditor {
        var editor = LineEditor()
        editor.setText(text, cursor: cursor)
        return editor
    }

    @Test func typingInsertsAtTheCursor() {
        var line = editor("helo", cursor: 3)
        line.insert("l")
        #expect(line.text == "hello")
        #expect(line.cursor == 4)
    }

    @Test func movingAndDeletingWorkOnCharactersNotBytes() {
        var line = editor("日本🎉e\u{301}")
        #expect(line.characters.count == 4)
        line.deleteBackward()
        #expect(line.text == "日本🎉")
        line.moveLeft()
        line.deleteBackward()
        #expect(line.text == "日🎉")
        line.moveToStart()
        line.deleteForward()
        #expect(line.text == "🎉")
        line.moveToEnd()
        #expect(line.cursor == 1)
    }

    @Test func aCombiningMarkTypedAfterALetterJoinsIt() {
        var line = editor("cafe")
        line.insert("\u{301}")
        #expect(line.characters.count == 4)
        #expect(line.text == "caf\u{E9}" || line.text == "cafe\u{301}")
    }

    @Test func wordJumps() {
        var line = editor("say hello, world")
        line.moveWordLeft()
        #expect(line.cursor == 11)
        line.moveWordLeft()
        #expect(line.cursor == 4)
        line.moveWordLeft()
        #expect(line.cursor == 0)
        line.moveWordRight()
        #expect(line.cursor == 3)
        line.moveWordRight()
        #expect(line.cursor == 9)
        line.moveWordRight()
        #expect(line.cursor == 16)
    }

    @Test func killingAndYanking() {
        var line = editor("one two three", cursor: 7)
        line.killToEnd()
        #expect(line.text == "one two")
        line.yank()
        #expect(line.text == "one two three")
        line.moveToEnd()
        line.killWordBackward()
        #expect(line.text == "one two ")
        line.killWordBackward()
        #expect(line.text == "one ")
        var start = editor("one two three", cursor: 4)
        start.killToStart()
        #expect(start.text == "two three")
        #expect(start.cursor == 0)
        start.killWordForward()
        #expect(start.text == " three")
    }

    @Test func historyKeepsTheDraft() {
        var line = LineEditor()
        line.insert("first")
        #expect(line.submit() == "first")
        line.insert("second")
        _ = line.submit()
        line.insert("second")
        _ = line.submit()   // a repeat is kept once
        line.insert("   ")
        _ = line.submit()   // blank lines are not kept
        #expect(line.history == ["first", "second"])
        line.insert("draft")
        line.historyPrevious()
        #expect(line.text == "second")
        line.historyPrevious()
        #expect(line.text == "first")
        line.historyPrevious()
        #expect(line.text == "first")
        line.historyNext()
        #expect(line.text == "second")
        line.historyNext()
        #expect(line.text == "draft")
    }

    @Test func historyIsBounded() {
        var line = LineEditor(historyLimit: 3)
        for number in 1...5 {
            line.insert("line \(number)")
            _ = line.submit()
        }
        #expect(line.history == ["line 3", "line 4", "line 5"])
    }

    @Test func pastedTextKeepsLineBreaksAndDropsControlCharacters() {
        var line = LineEditor()
        line.insert("one\r\ntwo\rthree\tfour\u{1B}[2J\u{7}")
        #expect(line.text == "one\ntwo\nthree    four[2J")
    }

    @Test func aShortLineIsShownWhole() {
        var line = editor("hello", cursor: 2)
        let view = line.viewport(width: 20)
        #expect(view == LineEditor.Viewport(text: "hello", cursorColumn: 2, hiddenBefore: false, hiddenAfter: false))
    }

    @Test func aLongLineScrollsToKeepTheCursorVisible() {
        var line = LineEditor()
        line.insert(String(repeating: "abcdefghij", count: 5))
        var view = line.viewport(width: 20)
        // At the end: the last 19 characters and room for the cursor.
        #expect(view.text == String(String(repeating: "abcdefghij", count: 5).suffix(19)))
        #expect(view.cursorColumn == 19)
        #expect(view.hiddenBefore && !view.hiddenAfter)
        line.moveToStart()
        view = line.viewport(width: 20)
        #expect(view.text == "abcdefghijabcdefghij")
        #expect(view.cursorColumn == 0)
        #expect(view.hiddenAfter)
        // Moving right inside the window does not scroll it.
        for _ in 0..<10 { line.moveRight() }
        #expect(line.viewport(width: 20).text == "abcdefghijabcdefghij")
        // Past its right edge, it scrolls only as far as needed.
        for _ in 0..<15 { line.moveRight() }
        view = line.viewport(width: 20)
        #expect(view.cursorColumn == 19)
        #expect(view.text.count == 20)
    }

    @Test func doubleWidthCharactersNeverStraddleTheEdge() {
        var line = LineEditor()
        line.insert(String(repeating: "中", count: 30))
        let view = line.viewport(width: 11)
        #expect(DisplayWidth.of(view.text) <= 11)
        #expect(view.cursorColumn + 1 <= 11)
        #expect(view.cursorColumn == DisplayWidth.of(view.text))
    }

    @Test func lineBreaksShowAsASymbol() {
        var line = LineEditor()
        line.insert("a\nb")
        #expect(line.viewport(width: 10).text == "a↵b")
    }
}
