import ChatClient
import ChatProtocol
import ChatTerminal
import Foundation
import Testing

@Suite struct ChatScreenTests {
    let time: Int64 = 1_700_000_000

    private func screen(username: String? = "alice", online: [String] = ["alice", "bob", "carol"]) -> ChatScreen {
        var status = ClientStatus(host: "chat.example", port: 9000, security: .verifiedTLS)
        status.phase = .online
        status.username = username
        status.serverUser = "Chatterbox"
        status.online = online
        status.everyoneSeen = Set(online + ["dave"])
        var screen = ChatScreen(status: status, clock: ClockFormat(timeZone: TimeZone(identifier: "UTC")!))
        _ = screen.apply(.status(status), now: time)
        return screen
    }

    private func message(_ from: String, _ to: String, _ text: String) -> ClientUpdate {
        .event(.message(ChatMessage(source: from, destination: to, timestamp: time, content: text)))
    }

    private func row(containing text: String, in image: ScreenImage) -> ScreenRow? {
        image.rows.first { $0.text.contains(text) }
    }

    @Test func theLayoutPutsTitleMessagesUsersStatusAndInputInPlace() {
        var chat = screen()
        _ = chat.apply(message("bob", "ALL", "hello"), now: time)
        let image = chat.compose(rows: 30, columns: 100, now: time)
        #expect(image.rows.count == 30)
        #expect(image.rows[0].text.contains("Chatterbox"))
        #expect(image.rows[0].fill == .bar)
        #expect(image.rows[1].text.contains("22:13          bob │ hello"))
        #expect(image.rows[1].text.hasSuffix("│ Users (3)"))
        #expect(image.rows[2].text.hasSuffix("│ alice"))
        #expect(image.rows[28].text.contains("[22:13] [alice] [connected]"))
        #expect(image.rows[28].text.contains("[chat.example:9000 TLS]"))
        #expect(image.rows[29].text == "[alice] ")
        #expect(image.cursor?.row == 29 && image.cursor?.column == 8)
        #expect(image.rows.allSatisfy { $0.width <= 100 })
    }

    @Test func theUserListHidesWhenTheScreenIsNarrowAndOnF2() {
        var chat = screen()
        #expect(!chat.compose(rows: 20, columns: 45, now: time).text.contains("Users (3)"))
        #expect(chat.compose(rows: 20, columns: 80, now: time).text.contains("Users (3)"))
        _ = chat.handle(.function(2))
        #expect(!chat.compose(rows: 20, columns: 80, now: time).text.contains("Users (3)"))
        _ = chat.handle(.alt("u"))
        #expect(chat.compose(rows: 20, columns: 80, now: time).text.contains("Users (3)"))
    }

    @Test func everySizeKeepsStatusAndInputAtTheBottom() {
        var chat = screen()
        for index in 0..<50 { _ = chat.apply(message("bob", "ALL", "message \(index) with some words to wrap"), now: time) }
        for (rows, columns) in [(30, 100), (10, 40), (5, 20), (40, 200), (8, 60)] {
            let image = chat.compose(rows: rows, columns: columns, now: time)
            #expect(image.rows.count == rows)
            #expect(image.rows[rows - 2].fill == .bar, "status bar at \(rows)x\(columns)")
            #expect(image.rows[rows - 1].text.hasPrefix("[alice]"))
            #expect(image.rows.allSatisfy { $0.width <= columns }, "no row wider than \(columns)")
        }
        #expect(chat.compose(rows: 3, columns: 50, now: time).rows[0].text == "Terminal too small")
    }

    @Test func aDirectMessageOpensItsWindowHighlightsItInTheBarAndRingsTheBell() throws {
        var chat = screen()
        #expect(chat.apply(message("bob", "alice", "psst"), now: time) == [.bell])
        #expect(chat.windows.map(\.name) == ["room", "bob"])
        #expect(chat.windows[1].unread == 1 && chat.windows[1].isHighlighted)
        var image = chat.compose(rows: 20, columns: 100, now: time)
        #expect(row(containing: "psst", in: image) == nil, "the DM is not in the room")
        let bar = try #require(row(containing: "[1:room]", in: image))
        #expect(bar.fill == .bar)
        #expect(bar.spans.contains(Span("2:bob(1)", .barAlert)))
        // Alt-2 shows it, without the [DM] tag (the window says it), and marks it read.
        #expect(chat.handle(.alt("2")) == [])
        image = chat.compose(rows: 20, columns: 100, now: time)
        let dm = try #require(row(containing: "psst", in: image))
        #expect(dm.text.contains("bob │ psst"))
        #expect(!dm.text.contains("[DM]"))
        #expect(row(containing: "[2:bob]", in: image) != nil)
        #expect(image.rows[0].text.contains("direct messages with bob"))
        #expect(image.rows[19].text.hasPrefix("[alice → bob] "))
        #expect(!chat.windows[1].isHighlighted && chat.windows[1].unread == 0)
        // What is typed here goes to bob alone; a command stays a command.
        _ = chat.handle(.text("hi bob"))
        #expect(chat.handle(.enter) == [.send("@bob hi bob")])
        _ = chat.handle(.text("/DisplayUsers"))
        #expect(chat.handle(.enter) == [.send("/DisplayUsers")])
        _ = chat.handle(.text("//not a command"))
        #expect(chat.handle(.enter) == [.send("@bob //not a command")])
    }

    @Test func windowsSwitchByKeysAndCommandsAndClose() throws {
        var chat = screen()
        _ = chat.apply(message("bob", "alice", "one"), now: time)
        _ = chat.apply(message("carol", "alice", "two"), now: time)
        _ = chat.apply(message("carol", "ALL", "in the room"), now: time)
        #expect(chat.windows.map(\.name) == ["room", "bob", "carol"])
        _ = chat.handle(.ctrl("n"))
        #expect(chat.currentWindow == 1)
        _ = chat.handle(.altRight)
        #expect(chat.currentWindow == 2)
        _ = chat.handle(.ctrl("n"))
        #expect(chat.currentWindow == 0, "round the list")
        _ = chat.handle(.altLeft)
        #expect(chat.currentWindow == 2)
        _ = chat.handle(.ctrl("p"))
        #expect(chat.currentWindow == 1)
        _ = chat.handle(.alt("9"))
        #expect(chat.currentWindow == 1, "no window 9: nothing changes")
        for (line, expected) in [("/Win 3", 2), ("/win 1", 0), ("/Win next", 1), ("/WIN prev", 0)] {
            _ = chat.handle(.text(line))
            #expect(chat.handle(.enter) == [])
            #expect(chat.currentWindow == expected, "\(line)")
        }
        // /Query opens (or shows) a conversation, and sends the message given with it.
        _ = chat.handle(.text("/Query dave hello there"))
        #expect(chat.handle(.enter) == [.send("@dave hello there")])
        #expect(chat.windows.map(\.name) == ["room", "bob", "carol", "dave"] && chat.currentWindow == 3)
        _ = chat.handle(.text("/query BOB"))
        #expect(chat.handle(.enter) == [])
        #expect(chat.currentWindow == 1, "names compare without case")
        // /Close closes the window shown, or the one named; never the room.
        _ = chat.handle(.text("/Close"))
        #expect(chat.handle(.enter) == [])
        #expect(chat.windows.map(\.name) == ["room", "carol", "dave"] && chat.currentWindow == 0)
        _ = chat.handle(.text("/Close 3"))
        _ = chat.handle(.enter)
        #expect(chat.windows.map(\.name) == ["room", "carol"])
        _ = chat.handle(.text("/Close"))
        _ = chat.handle(.enter)
        #expect(chat.windows.count == 2)
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("Window 1 is the room: it stays open."))
        // A message sent from the room with @ goes to the conversation's window, and shows
        // in the room as sent.
        _ = chat.apply(message("alice", "erin", "from the room"), now: time)
        #expect(chat.windows.map(\.name) == ["room", "carol", "erin"])
        #expect(chat.windows[2].scrollback.entries.count == 1)
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("[DM to erin] from the room"))
    }

    @Test func historyReplayedAtLoginGoesToTheRightWindowsWithoutHighlight() throws {
        var chat = screen()
        let messages = [
            ChatMessage(source: "bob", destination: "ALL", timestamp: time, content: "old broadcast"),
            ChatMessage(source: "bob", destination: "alice", timestamp: time, content: "old dm to me"),
            ChatMessage(source: "alice", destination: "carol", timestamp: time, content: "old dm from me"),
        ]
        #expect(chat.apply(.event(.history(messages)), now: time) == [])
        #expect(chat.windows.map(\.name) == ["room", "bob", "carol"])
        #expect(chat.windows[1].unread == 1 && !chat.windows[1].isHighlighted)
        #expect(chat.windows[2].unread == 0, "your own messages are no news")
        let room = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(room.contains("old broadcast") && !room.contains("old dm"))
        _ = chat.handle(.alt("3"))
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("alice │ old dm from me"))
    }

    @Test func searchResultsOpenInAWindowOfTheirOwn() throws {
        var chat = screen()
        _ = chat.apply(message("bob", "ALL", "live"), now: time)
        let found = ChatMessage(source: "carol", destination: "ALL", timestamp: time - 86_400, content: "the word")
        _ = chat.apply(.event(.searchResults(query: "word", messages: [found], more: false)), now: time)
        #expect(chat.windows.map(\.name) == ["room", "search"] && chat.currentWindow == 1)
        let image = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(image.contains("the word") && !image.contains("live"))
        _ = chat.handle(.text("hello"))
        #expect(chat.handle(.enter) == [], "nothing typed in the search window is sent")
    }

    @Test func theWindowBarShrinksToFitANarrowScreen() throws {
        var chat = screen()
        for name in ["bobby", "carol", "dave", "erin", "frank", "gina"] { _ = chat.apply(message(name, "alice", "hi"), now: time) }
        _ = chat.handle(.alt("3"))
        let image = chat.compose(rows: 12, columns: 40, now: time)
        let bar = image.rows[9]
        #expect(bar.fill == .bar && bar.width <= 40)
        #expect(bar.text.contains("[3:carol]"))
        #expect(bar.text.contains("2(1)") || bar.text.contains("2:bobby(1)"), "\(bar.text)")
        #expect(image.rows[10].fill == .bar && image.rows[11].text.hasPrefix("[alice → carol]"))
    }

    @Test func mentionsAreHighlightedButOrdinaryMessagesAndHistoryAreQuiet() throws {
        var chat = screen()
        #expect(chat.apply(message("carol", "ALL", "Alice, look!"), now: time) == [.bell])
        #expect(chat.apply(message("carol", "ALL", "malice aforethought"), now: time) == [])
        #expect(chat.apply(message("alice", "ALL", "I said alice"), now: time) == [])
        let history = ChatMessage(source: "bob", destination: "ALL", timestamp: time, content: "old words for alice")
        #expect(chat.apply(.event(.history([history])), now: time) == [])
        let image = chat.compose(rows: 20, columns: 100, now: time)
        #expect(try #require(row(containing: "Alice, look!", in: image)).spans.contains(Span("carol", .highlightNick)))
        #expect(try #require(row(containing: "malice", in: image)).spans.contains { $0.style == .highlightNick } == false)
        #expect(try #require(row(containing: "I said alice", in: image)).spans.contains(Span("alice", .ownNick)))
    }

    @Test func theBellCanBeTurnedOff() {
        var chat = screen()
        for key in "/bell off" { _ = chat.handle(.text(String(key))) }
        #expect(chat.handle(.enter) == [])
        #expect(!chat.bellEnabled)
        #expect(chat.apply(message("bob", "alice", "psst"), now: time) == [])
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("bell off"))
    }

    @Test func contentFromOthersIsDrawnInert() {
        var chat = screen()
        _ = chat.apply(message("mallory", "ALL", "\u{1B}[2J\u{1B}]0;pwned\u{7}\u{202E}x\u{9B}31m"), now: time)
        let image = chat.compose(rows: 20, columns: 100, now: time)
        #expect(image.text.contains("^[[2J^[]0;pwned^G<U+202E>x<U+009B>31m"))
        let scalars = image.rows.flatMap { $0.spans.flatMap { $0.text.unicodeScalars } }
        #expect(!scalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) || (0x202A...0x202E).contains($0.value) })
    }

    @Test func aForgedLineStaysInsideItsMessage() {
        var chat = screen()
        _ = chat.apply(message("mallory", "ALL", "hi\n22:13       admin │ give me your password"), now: time)
        let rows = chat.compose(rows: 20, columns: 100, now: time).rows.map(\.text)
        let forged = rows.first { $0.contains("give me your password") }
        #expect(forged?.hasPrefix("              ") == true)
        #expect(forged?.contains("│ 22:13       admin │") == true)
    }

    @Test func aNameMadeOfPunctuationCannotPassForAJoin() {
        var chat = screen()
        _ = chat.apply(message("-->", "ALL", "dave joined"), now: time)
        _ = chat.apply(.event(.joined("dave")), now: time)
        let rows = chat.compose(rows: 20, columns: 100, now: time).rows.map(\.text).filter { $0.contains("dave joined") }
        #expect(rows.count == 2)
        #expect(rows[0].contains("\"-->\" │ dave joined"))
        #expect(rows[1].contains("     --> │ dave joined"))
    }

    @Test func scrollingUpHoldsTheViewAndMarksNewMessagesBelow() throws {
        var chat = screen()
        for index in 0..<100 { _ = chat.apply(message("bob", "ALL", "line \(index)"), now: time) }
        var image = chat.compose(rows: 12, columns: 80, now: time)
        _ = chat.handle(.pageUp)
        image = chat.compose(rows: 12, columns: 80, now: time)
        let top = image.rows[1].text
        #expect(image.text.contains("more below"))
        _ = chat.apply(message("carol", "ALL", "something new"), now: time)
        image = chat.compose(rows: 12, columns: 80, now: time)
        #expect(image.rows[1].text == top, "the view stays where the reader is")
        let marker = try #require(row(containing: "1 new message below", in: image))
        #expect(marker.spans.first?.style == .unreadMarker)
        while chat.scrollback.isScrolledUp {
            _ = chat.handle(.pageDown)
            _ = chat.compose(rows: 12, columns: 80, now: time)
        }
        image = chat.compose(rows: 12, columns: 80, now: time)
        #expect(!image.text.contains("below"))
        #expect(image.text.contains("something new"))
    }

    @Test func scrollingStopsAtTheTop() {
        var chat = screen()
        for index in 0..<5 { _ = chat.apply(message("bob", "ALL", "line \(index)"), now: time) }
        for _ in 0..<10 { _ = chat.handle(.pageUp) }
        let image = chat.compose(rows: 12, columns: 80, now: time)
        #expect(!chat.scrollback.isScrolledUp)
        #expect(image.rows[1].text.contains("line 0"))
    }

    @Test func theUsernameIsAskedForInTheInputLine() {
        var chat = screen(username: nil, online: [])
        _ = chat.apply(.usernameNeeded(reason: nil), now: time)
        #expect(chat.compose(rows: 10, columns: 60, now: time).rows[9].text == "Username: ")
        _ = chat.handle(.text("alice"))
        #expect(chat.handle(.enter) == [.send("alice")])
        #expect(!chat.askingForUsername)
    }

    @Test func tabCompletesNamesAndCommands() {
        var chat = screen()
        _ = chat.handle(.text("@ca"))
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "@carol ")
        _ = chat.handle(.ctrl("u"))
        _ = chat.handle(.text("d"))
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "dave: ", "people seen but offline complete too")
        _ = chat.handle(.ctrl("u"))
        _ = chat.handle(.text("/dis"))
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "/DisplayUsers ")
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "/DisplayAllUsers ")
        _ = chat.handle(.ctrl("u"))
        _ = chat.handle(.text("/be"))
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "/Bell ")
        // Every command /Help lists completes, not only the protocol's first eight.
        for (typed, completed) in [("/se", "/Search "), ("/ge", "/Get "), ("/fi", "/Files "), ("/hi", "/History "), ("/reg", "/Register "), ("/unr", "/Unregister "), ("/rec", "/Reconnect ")] {
            _ = chat.handle(.ctrl("u"))
            _ = chat.handle(.text(typed))
            _ = chat.handle(.tab)
            #expect(chat.editor.text == completed)
        }
        _ = chat.handle(.ctrl("u"))
        _ = chat.handle(.text("/se"))
        _ = chat.handle(.tab)
        _ = chat.handle(.tab)
        #expect(chat.editor.text == "/Send ")
    }

    @Test func longNamesAreCutWithAnEllipsisAndTheTextStaysAligned() throws {
        var chat = screen()
        _ = chat.apply(message("bob", "ALL", "short"), now: time)
        _ = chat.apply(message("averyveryverylongname_one", "ALL", "first"), now: time)
        _ = chat.apply(message("averyveryverylongname_two", "ALL", "second"), now: time)
        let image = chat.compose(rows: 20, columns: 100, now: time)
        let short = try #require(row(containing: "short", in: image)).text
        let first = try #require(row(containing: "first", in: image)).text
        let second = try #require(row(containing: "second", in: image)).text
        let column = { (text: String) in text.firstIndex(of: "│").map { text.distance(from: text.startIndex, to: $0) } }
        #expect(column(first) == column(short) && column(second) == column(short))
        #expect(first.contains("…") && second.contains("…"))
        // Still told apart: the whole name leads the text.
        #expect(first.contains("averyveryverylongname_one first") && second.contains("averyveryverylongname_two second"))
        // The user list cuts a long name with an ellipsis too.
        var listed = screen(online: ["alice", "averyveryverylongname_one"])
        #expect(listed.compose(rows: 20, columns: 100, now: time).rows.contains { $0.text.hasSuffix("…") && $0.text.contains("averyvery") })
    }

    @Test func historyPagesAndSearchResultsAreABlockOfTheirOwnNotNewMessages() throws {
        var chat = screen()
        _ = chat.apply(message("bob", "ALL", "live and new"), now: time)
        let old = ChatMessage(source: "carol", destination: "ALL", timestamp: time - 30 * 86_400, content: "from last month")
        _ = chat.apply(.event(.earlierMessages([old], more: true)), now: time)
        let room = chat.compose(rows: 30, columns: 120, now: time)
        _ = chat.apply(.event(.searchResults(query: "month", messages: [old], more: false)), now: time)
        let search = chat.compose(rows: 30, columns: 120, now: time)
        let live = try #require(row(containing: "live and new", in: room))
        let past = (room.rows + search.rows).filter { $0.text.contains("from last month") }
        #expect(past.count == 2)
        for row in past {
            // Dated and dimmed, unlike the live line.
            #expect(row.text.contains("[15 Oct 2023] from last month"), "\(row.text)")
            #expect(row.spans.first { $0.text.contains("carol") }?.style == .quiet)
            #expect(row.spans.first { $0.text.contains("from last month") }?.style == .quiet)
        }
        #expect(!live.spans.contains { $0.style == .quiet })
        #expect(room.text.contains("┌ 1 earlier message (from the history, not new):"))
        #expect(search.text.contains("┌ 1 message containing month (search results, not new):"))
        #expect(!search.text.contains("live and new"))
        // No date line for last month's messages among today's.
        #expect(!room.text.contains("October 2023") && !search.text.contains("October 2023"))
    }

    @Test func editingKeys() {
        var chat = screen()
        _ = chat.handle(.text("hello world"))
        _ = chat.handle(.ctrl("a"))
        _ = chat.handle(.wordRight)
        _ = chat.handle(.ctrl("k"))
        #expect(chat.editor.text == "hello")
        _ = chat.handle(.paste("one\ntwo"))
        #expect(chat.editor.text == "helloone\ntwo")
        #expect(chat.handle(.ctrl("l")) == [.repaint])
        #expect(chat.handle(.ctrl("c")) == [.quit])
    }

    @Test func joinsAndLeavesAreQuiet() throws {
        var chat = screen()
        _ = chat.apply(.event(.joined("dave")), now: time)
        _ = chat.apply(.event(.left("dave")), now: time)
        let image = chat.compose(rows: 20, columns: 100, now: time)
        let joined = try #require(row(containing: "dave joined", in: image))
        #expect(joined.spans.contains(Span("-->", .quiet)))
        #expect(try #require(row(containing: "dave left", in: image)).spans.contains(Span("<--", .quiet)))
    }

    @Test func aChangeOfDateIsMarked() {
        var chat = screen()
        _ = chat.apply(message("bob", "ALL", "late"), now: time)
        _ = chat.apply(.event(.message(ChatMessage(source: "bob", destination: "ALL", timestamp: time + 86_400, content: "next day"))), now: time)
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("Wednesday 15 November 2023"))
    }

    @Test func theStatusBarShowsTheConnectionState() {
        var chat = screen()
        var status = chat.status
        status.phase = .waitingToReconnect(retryAt: .now + .seconds(3))
        status.queuedLines = 2
        _ = chat.apply(.status(status), now: time)
        let bar = chat.compose(rows: 20, columns: 120, now: time).rows[18].text
        #expect(bar.contains("disconnected · retry in 3s"))
        #expect(bar.contains("2 waiting to send"))
        #expect(!bar.contains("online]"))
    }

    @Test func aPasswordIsMaskedAndKeptOutOfTheInputHistory() {
        var chat = screen()
        _ = chat.apply(.secretNeeded(prompt: "Password for alice (an empty line chooses another name): "), now: time)
        _ = chat.handle(.text("s3cret"))
        let image = chat.compose(rows: 24, columns: 80, now: time)
        let input = image.rows[23].text
        #expect(input.contains("Password for alice: ******"))
        // The whole question above, saying truly how the typing shows (no "not shown").
        let wide = chat.compose(rows: 24, columns: 200, now: time)
        #expect(wide.rows.contains { $0.text.contains("an empty line chooses another name") && $0.text.contains("show as *") })
        #expect(!wide.rows.contains { $0.text.contains("not shown") })
        #expect(!image.rows.contains { $0.text.contains("s3cret") })
        #expect(chat.handle(.enter) == [.send("s3cret")])
        #expect(chat.askingForSecret == nil)
        _ = chat.handle(.up)
        #expect(chat.editor.text.isEmpty, "the password is not in the Up-arrow history")
        for key in "/Register inline-pass" { _ = chat.handle(.text(String(key))) }
        _ = chat.handle(.enter)
        _ = chat.handle(.up)
        #expect(chat.editor.text.isEmpty, "nor is a password given to /Register")
    }
}
