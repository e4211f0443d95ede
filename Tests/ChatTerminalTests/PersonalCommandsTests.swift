import ChatClient
import ChatProtocol
import ChatTerminal
import Foundation
import Testing

/// /me, /Away, /Highlight, /Filter and /Set on the screen, without a terminal.
@Suite struct PersonalCommandsTests {
    let time: Int64 = 1_700_000_000

    private func screen() -> ChatScreen {
        var status = ClientStatus(host: "chat.example", port: 9000, security: .verifiedTLS)
        status.phase = .online
        status.username = "alice"
        status.serverUser = "Chatterbox"
        status.online = ["alice", "bob", "carol"]
        var screen = ChatScreen(status: status, clock: ClockFormat(timeZone: TimeZone(identifier: "UTC")!))
        _ = screen.apply(.status(status), now: time)
        return screen
    }

    private func message(_ from: String, _ to: String, _ text: String) -> ClientUpdate {
        .event(.message(ChatMessage(source: from, destination: to, timestamp: time, content: text)))
    }

    private func type(_ line: String, into chat: inout ChatScreen) -> [ChatScreen.Effect] {
        _ = chat.handle(.text(line))
        return chat.handle(.enter)
    }

    @Test func meSendsAnActionThatShowsAsOne() throws {
        var chat = screen()
        #expect(type("/me waves", into: &chat) == [.send("* alice waves")])
        _ = type("/Query bob", into: &chat)
        #expect(type("/Me nods", into: &chat) == [.send("@bob * alice nods")])
        _ = chat.handle(.alt("1"))
        _ = chat.apply(message("bob", "ALL", "* bob waves back"), now: time)
        // Someone else's name after the star is not an action of theirs.
        _ = chat.apply(message("bob", "ALL", "* carol waves"), now: time)
        let text = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(text.contains("22:13            * │ bob waves back"))
        #expect(text.contains("bob │ * carol waves"))
    }

    @Test func awayIsSaidToEveryoneAndAnsweredOnceToEachDirectMessage() throws {
        var chat = screen()
        #expect(type("/Away lunch", into: &chat) == [.send("* alice is away: lunch")])
        #expect(chat.compose(rows: 20, columns: 100, now: time).rows[18].text.contains("[away]"))
        #expect(chat.apply(message("bob", "alice", "there?"), now: time) == [.bell, .send("@bob * alice is away: lunch (automatic answer)")])
        #expect(chat.apply(message("bob", "alice", "hello?"), now: time) == [.bell], "answered once")
        #expect(chat.apply(message("carol", "alice", "hi"), now: time) == [.bell, .send("@carol * alice is away: lunch (automatic answer)")])
        #expect(type("/Back", into: &chat) == [.send("* alice is back")])
        #expect(chat.apply(message("bob", "alice", "back?"), now: time) == [.bell])
        #expect(type("/Away", into: &chat) == [], "not away: nothing to say")
    }

    @Test func othersAwayAreDimmedInTheUserList() throws {
        var chat = screen()
        _ = chat.apply(message("carol", "ALL", "* carol is away: brb"), now: time)
        #expect(chat.awayUsers == ["carol": "brb"])
        var image = chat.compose(rows: 20, columns: 100, now: time)
        let row = try #require(image.rows.first { $0.text.hasSuffix("carol (away)") })
        #expect(row.spans.contains(Span("carol (away)", .quiet)))
        _ = chat.apply(message("carol", "ALL", "* carol is back"), now: time)
        image = chat.compose(rows: 20, columns: 100, now: time)
        #expect(!image.text.contains("(away)"))
        // Leaving ends being away.
        _ = chat.apply(message("bob", "ALL", "* bob is away"), now: time)
        _ = chat.apply(.event(.left("bob")), now: time)
        #expect(chat.awayUsers.isEmpty)
    }

    @Test func highlightWordsHighlightLikeTheName() throws {
        var chat = screen()
        #expect(chat.apply(message("bob", "ALL", "who wants pizza?"), now: time) == [])
        _ = type("/Highlight add pizza", into: &chat)
        #expect(chat.highlightWords == ["pizza"])
        #expect(chat.apply(message("bob", "ALL", "Pizza is here"), now: time) == [.bell])
        #expect(chat.apply(message("bob", "ALL", "pizzazz"), now: time) == [], "whole words only")
        let row = try #require(chat.compose(rows: 20, columns: 100, now: time).rows.first { $0.text.contains("Pizza is here") })
        #expect(row.spans.contains(Span("bob", .highlightNick)))
        _ = type("/Highlight remove PIZZA", into: &chat)
        #expect(chat.highlightWords.isEmpty)
    }

    @Test func joinsCanBeFilteredAndSecondsShown() throws {
        var chat = screen()
        _ = type("/Filter joins", into: &chat)
        _ = chat.apply(.event(.joined("dave")), now: time)
        _ = chat.apply(.event(.left("dave")), now: time)
        var text = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(!text.contains("dave joined") && !text.contains("dave left"))
        _ = type("/Filter joins off", into: &chat)
        _ = chat.apply(.event(.joined("erin")), now: time)
        _ = chat.apply(message("bob", "ALL", "timed"), now: time + 9)
        text = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(text.contains("erin joined") && text.contains("22:13          bob │ timed"))
        _ = type("/Set seconds on", into: &chat)
        text = chat.compose(rows: 20, columns: 100, now: time).text
        #expect(text.contains("22:13:20          bob │ timed"))
        #expect(text.contains("seconds = on"))
        #expect(type("/Set nonsense 3", into: &chat) == [])
        #expect(chat.compose(rows: 20, columns: 100, now: time).text.contains("Usage: /Set"))
    }
}
