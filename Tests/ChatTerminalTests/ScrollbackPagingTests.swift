import ChatClient
import ChatProtocol
import ChatTerminal
import Foundation
import Testing

/// PgUp at the top loads the older page, into the right windows; Ctrl-R searches the window.
@Suite struct ScrollbackPagingTests {
    let time: Int64 = 1_700_000_000

    private func screen() -> ChatScreen {
        var status = ClientStatus(host: "chat.example", port: 9000, security: .verifiedTLS)
        status.phase = .online
        status.username = "alice"
        status.serverUser = "Chatterbox"
        status.online = ["alice", "bob"]
        var screen = ChatScreen(status: status, clock: ClockFormat(timeZone: TimeZone(identifier: "UTC")!))
        _ = screen.apply(.status(status), now: time)
        return screen
    }

    private func message(_ from: String, _ to: String, _ text: String, at: Int64? = nil) -> ChatMessage {
        ChatMessage(source: from, destination: to, timestamp: at ?? time, content: text)
    }

    @Test func pageUpAtTheTopLoadsTheOlderPageAboveTheOldest() throws {
        var chat = screen()
        _ = chat.apply(.event(.history((1...3).map { message("bob", "ALL", "recent \($0)") })), now: time)
        _ = chat.apply(.event(.message(message("bob", "alice", "a dm"))), now: time)
        _ = chat.compose(rows: 20, columns: 100, now: time)
        // Everything fits: the view is at the top, so PgUp asks for the page before.
        #expect(chat.handle(.pageUp) == [.send("/History 50")])
        #expect(chat.handle(.pageUp) == [], "one request at a time")
        let older = [message("carol", "ALL", "older words", at: time - 86_400), message("bob", "alice", "older dm", at: time - 86_400)]
        _ = chat.apply(.event(.earlierMessages(older, more: false)), now: time)
        let room = chat.compose(rows: 20, columns: 100, now: time).text
        let lines = room.components(separatedBy: "\n")
        let oldRow = try #require(lines.firstIndex { $0.contains("older words") })
        let recentRow = try #require(lines.firstIndex { $0.contains("recent 1") })
        #expect(oldRow < recentRow, "above, not below")
        #expect(room.contains("The beginning of the history."))
        #expect(room.contains("Monday 13 November 2023"))
        #expect(!room.contains("older dm"), "the DM goes to its window")
        _ = chat.handle(.alt("2"))
        let conversation = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(conversation.components(separatedBy: "\n").firstIndex { $0.contains("older dm") }! < conversation.components(separatedBy: "\n").firstIndex { $0.contains("a dm") }!)
        // Nothing older: PgUp no longer asks.
        _ = chat.handle(.alt("1"))
        _ = chat.compose(rows: 20, columns: 100, now: time)
        #expect(chat.handle(.pageUp) == [])
    }

    @Test func pageUpScrollsFirstWhenThereIsMoreAbove() {
        var chat = screen()
        for index in 1...40 { _ = chat.apply(.event(.message(message("bob", "ALL", "line \(index)"))), now: time) }
        _ = chat.compose(rows: 12, columns: 40, now: time)
        #expect(chat.handle(.pageUp) == [])
        #expect(chat.scrollback.isScrolledUp)
    }

    @Test func controlRFindsOlderMatchesAndEscapeGoesBack() throws {
        var chat = screen()
        for index in 1...40 { _ = chat.apply(.event(.message(message("bob", "ALL", "line \(index)"))), now: time) }
        _ = chat.apply(.event(.message(message("bob", "ALL", "the needle one"))), now: time)
        for index in 41...80 { _ = chat.apply(.event(.message(message("bob", "ALL", "line \(index)"))), now: time) }
        _ = chat.compose(rows: 12, columns: 60, now: time)
        _ = chat.handle(.ctrl("r"))
        _ = chat.handle(.text("line 1"))
        var image = chat.compose(rows: 12, columns: 60, now: time)
        #expect(image.rows[11].text.hasPrefix("Search: line 1"))
        let match = try #require(image.rows.first { $0.spans.contains { $0.style == .unreadMarker } && $0.text.contains("line 1") })
        #expect(match.text.contains("line 19"), "the newest match first: \(match.text)")
        _ = chat.handle(.ctrl("r"))
        image = chat.compose(rows: 12, columns: 60, now: time)
        #expect(image.rows.contains { $0.spans.contains { $0.style == .unreadMarker } && $0.text.contains("line 18") })
        for _ in 0..<6 { _ = chat.handle(.backspace) }
        _ = chat.handle(.text("needle"))
        image = chat.compose(rows: 12, columns: 60, now: time)
        #expect(image.rows.contains { $0.spans.contains { $0.style == .unreadMarker } && $0.text.contains("the needle one") })
        _ = chat.handle(.text("zzz"))
        #expect(chat.compose(rows: 12, columns: 60, now: time).rows[11].text.hasPrefix("Search (not found): needlezzz"))
        _ = chat.handle(.escape)
        #expect(chat.localSearch == nil && !chat.scrollback.isScrolledUp, "Escape goes back to where the view was")
        #expect(chat.compose(rows: 12, columns: 60, now: time).rows[11].text.hasPrefix("[alice]"))
    }
}
