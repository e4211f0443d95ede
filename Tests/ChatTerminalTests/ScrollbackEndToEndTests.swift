import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// PgUp reaching past the login replay, /Search in its own window, and Ctrl-R, in the real
/// full-screen client in tmux, on a large and on a small terminal.
@Suite(.serialized) struct ScrollbackEndToEndTests {
    @Test(arguments: WindowsEndToEndTests.sizes) func pageUpLoadsOlderMessagesAndSearchesStayApart(width: Int, height: Int) async throws {
        // The login replays the last 5 messages only.
        try await TerminalSetup.withServer(arguments: ["--history-limit", "5"]) { setup, tmux in
            let dave = try await setup.rawClient("dave")
            for index in 1...12 { try await dave.say("old \(index)", as: "dave") }
            _ = try await dave.next { $0.messages?.contains { $0.content == "old 12" } == true }
            try await setup.startClient("alice", in: tmux, width: width, height: height)
            let first = try await tmux.waitFor("alice", "old 12")
            #expect(!first.contains("old 1\n") && !first.contains("old 3 "))
            // PgUp until the first message shows: each press scrolls, or at the top loads.
            var reached = false
            for _ in 0..<12 where !reached {
                try tmux.press("alice", "PageUp")
                reached = (try? await tmux.waitForScreen("alice", timeout: .seconds(2), "old 1") { $0.range(of: #"│ old 1\s*(\n|│)"#, options: .regularExpression) != nil }) != nil
            }
            let shown = try tmux.capture("alice")
            #expect(reached, "PgUp reached the first message: \(shown)")
            try await tmux.waitFor("alice", "beginning of the")

            // Ctrl-R finds a line in the window; Escape comes back.
            try tmux.press("alice", "C-r")
            try tmux.type("alice", "old 7")
            try await tmux.waitForScreen("alice", escapes: true, "the match highlighted") { screen in
                TerminalSetup.row(containing: "old 7", in: screen)?.contains("48;5;37") == true
            }
            #expect(try tmux.rows("alice").last?.hasPrefix("Search: old 7") == true)
            try tmux.press("alice", "Escape")
            try await tmux.waitForScreen("alice", "the search ended") { $0.components(separatedBy: "\n").last { !$0.isEmpty }?.hasPrefix("[alice]") == true }

            // /Search results open their own window, apart from the room.
            try tmux.type("alice", "/Search old")
            try tmux.press("alice", "Enter")
            let results = try await tmux.waitForScreen("alice", "the results' window") { $0.contains("[2:search]") && $0.contains("End of the results") }
            #expect(!results.contains("Connected to"), "nothing of the room")
            try tmux.press("alice", "M-1")
            try await tmux.waitFor("alice", "[1:room]")
            await dave.close()
        }
    }
}
