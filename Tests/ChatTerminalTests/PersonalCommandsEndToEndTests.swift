import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// /me, /Away, /Highlight, /Filter joins and /Set seconds between two real full-screen
/// clients in tmux, on a large and on a small terminal.
@Suite(.serialized) struct PersonalCommandsEndToEndTests {
    @Test(arguments: WindowsEndToEndTests.sizes) func actionsAwayHighlightsFiltersAndSeconds(width: Int, height: Int) async throws {
        try await TerminalSetup.withServer { setup, tmux in
            try await setup.startClient("alice", in: tmux, width: width, height: height)
            try await setup.startClient("bob", in: tmux, width: width, height: height)
            func run(_ name: String, _ line: String) throws {
                try tmux.type(name, line)
                try tmux.press(name, "Enter")
            }

            try run("alice", "/me waves")
            try await tmux.waitFor("bob", "* │ alice waves")

            try run("alice", "/Away lunch")
            try await tmux.waitFor("bob", "alice is away: lunch")
            if width >= 100 {
                try await tmux.waitFor("bob", "alice (away)")
                try await tmux.waitFor("alice", "[away]")
            }
            // A DM to alice is answered once, by itself.
            try run("bob", "@alice are you there?")
            try await tmux.waitFor("bob", "2:alice(1)")
            try tmux.press("bob", "M-2")
            try await tmux.waitFor("bob", "(automatic answer)")
            try tmux.press("bob", "M-1")

            try run("alice", "/Highlight add pizza")
            try await tmux.waitFor("alice", "Messages containing")
            try run("bob", "pizza time")
            let screen = try await tmux.waitForScreen("alice", escapes: true, "the highlighted word") { screen in
                TerminalSetup.row(containing: "pizza time", in: screen)?.contains("48;5;220m") == true
            }
            #expect(TerminalSetup.row(containing: "pizza time", in: screen)?.contains("bob") == true)

            try run("alice", "/Filter joins")
            try await tmux.waitFor("alice", "Joins and leaves are")
            let carol = try await setup.rawClient("carol")
            try await tmux.waitFor("bob", "carol joined")
            // Something after the join, so that alice has had it when her screen is read.
            try run("bob", "after the join")
            let filtered = try await tmux.waitFor("alice", "after the join")
            #expect(!filtered.contains("carol joined"))

            try run("alice", "/Set seconds on")
            let withSeconds = try await tmux.waitFor("alice", "seconds = on")
            #expect(withSeconds.range(of: #"\d\d:\d\d:\d\d +-- │ seconds = on"#, options: .regularExpression) != nil)
            await carol.close()
        }
    }
}
