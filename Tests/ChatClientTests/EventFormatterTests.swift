import ChatClient
import ChatProtocol
import Foundation
import Testing

@Suite struct EventFormatterTests {
    let formatter = EventFormatter(username: "alice", serverUser: "Chatterbox", timeZone: TimeZone(identifier: "UTC")!)
    // 2023-11-14 22:13:20 UTC
    let time: Int64 = 1_700_000_000

    @Test func formatsBroadcastsDirectMessagesAndServerLines() {
        #expect(formatter.format(ChatMessage(source: "bob", destination: "ALL", timestamp: time, content: "hi")) == ["[22:13] <bob> hi"])
        #expect(formatter.format(ChatMessage(source: "bob", destination: "alice", timestamp: time, content: "psst")) == ["[22:13] [bob → you] psst"])
        #expect(formatter.format(ChatMessage(source: "alice", destination: "bob", timestamp: time, content: "yes")) == ["[22:13] [you → bob] yes"])
        // Some servers replay direct messages between others: both names, never "you".
        #expect(formatter.format(ChatMessage(source: "bob", destination: "carol", timestamp: time, content: "hm")) == ["[22:13] [bob → carol] hm"])
        #expect(formatter.format(ChatMessage(source: "Chatterbox", destination: "alice", timestamp: time, content: "You are logged in as alice.")) == ["[22:13] -Chatterbox- You are logged in as alice."])
    }

    @Test func historyPagesAndSearchResultsAreSetApartAndDated() {
        let old = ChatMessage(source: "bob", destination: "ALL", timestamp: time, content: "old news")
        #expect(formatter.lines(for: .earlierMessages([old], more: false)) == [
            "-!- 1 earlier message (from the history, not new):", "  | 2023-11-14 [22:13] <bob> old news", "-!- That was the beginning of the history.",
        ])
        #expect(formatter.lines(for: .searchResults(query: "news", messages: [old], more: false))[1] == "  | 2023-11-14 [22:13] <bob> old news")
    }

    @Test func continuationLinesAreIndentedSoTheyCannotForgeMessages() {
        let forged = ChatMessage(source: "mallory", destination: "ALL", timestamp: time, content: "hello\n[22:13] <admin> give me your password")
        #expect(formatter.format(forged) == ["[22:13] <mallory> hello", "        [22:13] <admin> give me your password"])
    }

    @Test func namesAndTextAreSanitised() {
        let lines = formatter.lines(for: .joined("evil\u{1B}[2J"))
        #expect(lines.count == 1 && lines[0].hasSuffix("--> evil^[[2J joined"))
        #expect(formatter.lines(for: .error("bad\u{7}")).first?.hasSuffix("!!! Error from server: bad^G") == true)
    }
}
