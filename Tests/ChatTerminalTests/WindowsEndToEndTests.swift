import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// Windows in the real full-screen client, in tmux, on a large and on a small terminal:
/// opened by a direct message, marked in the window bar, switched by keys and commands.
@Suite(.serialized) struct WindowsEndToEndTests {
    static let sizes = [(120, 40), (40, 12)]

    @Test(arguments: sizes) func aDirectMessageOpensAWindowThatIsSwitchedToAndAnsweredWithoutAt(width: Int, height: Int) async throws {
        try await TerminalSetup.withServer { setup, tmux in
            try await setup.startClient("alice", in: tmux, width: width, height: height)
            let bob = try await setup.rawClient("bob")
            try await tmux.waitFor("alice", "bob joined")
            try await bob.say("psst", as: "bob", to: "alice")
            // The room does not show it; the window bar shows window 2, highlighted.
            // Conditions take in the whole screen at once: a capture may come in the middle of a redraw.
            let room = try await tmux.waitForScreen("alice", escapes: true, "window 2 in the bar") { $0.contains("2:bob(1)") && $0.contains("[1:room]") }
            let bar = try #require(TerminalSetup.row(containing: "2:bob(1)", in: room))
            #expect(bar.contains("[1:room]"))
            #expect(bar.contains("\u{1B}[1m\u{1B}[38;5;220m\u{1B}[48;5;24m2:bob(1)") || bar.contains("38;5;220m\u{1B}[48;5;24m2:bob(1)") || bar.contains("220"), "highlighted: \(bar.debugDescription)")
            #expect(!(try tmux.capture("alice")).contains("psst"))

            try tmux.press("alice", "M-2")
            try await tmux.waitForScreen("alice", "bob's window") { screen in
                screen.contains("bob │ psst") && screen.contains("[2:bob]")
                    && screen.components(separatedBy: "\n").last { !$0.isEmpty }?.hasPrefix("[alice → bob]") == true
            }
            // Typed without @, it goes to bob alone.
            try tmux.type("alice", "hello bob")
            try tmux.press("alice", "Enter")
            let answer = try await bob.next { $0.messages?.contains { $0.content == "hello bob" } == true }
            #expect(answer.frame.messages?.first { $0.content == "hello bob" }?.destination == "bob")
            try await tmux.waitFor("alice", "alice │ hello bob")

            // Back to the room with Alt-1, and round the windows with Ctrl-N and Alt-←.
            try tmux.press("alice", "M-1")
            try await tmux.waitForScreen("alice", "the room") { $0.contains("[1:room]") && !$0.contains("hello bob") }
            try tmux.press("alice", "C-n")
            try await tmux.waitFor("alice", "[2:bob]")
            try tmux.press("alice", "M-Left")
            try await tmux.waitFor("alice", "[1:room]")

            // /Query opens a window; /Close closes it; /Win switches.
            try tmux.type("alice", "/Query carol")
            try tmux.press("alice", "Enter")
            try await tmux.waitFor("alice", "[3:carol]")
            try tmux.type("alice", "/Close")
            try tmux.press("alice", "Enter")
            try await tmux.waitForScreen("alice", "window 3 closed") { !$0.contains("carol") && $0.contains("[2:bob]") }
            try tmux.type("alice", "/Win 1")
            try tmux.press("alice", "Enter")
            try await tmux.waitFor("alice", "[1:room]")
            await bob.close()
        }
    }

    @Test(arguments: sizes) func historyReplayedAtLoginGoesToTheRightWindows(width: Int, height: Int) async throws {
        try await TerminalSetup.withServer { setup, tmux in
            // erin has been here before: a DM to her while she is away waits for her.
            try await setup.rawClient("erin").close()
            let dave = try await setup.rawClient("dave")
            try await dave.say("for everyone", as: "dave")
            try await dave.say("just for erin", as: "dave", to: "erin")
            _ = try await dave.next { $0.messages?.last?.content == "just for erin" }
            try await setup.startClient("erin", in: tmux, width: width, height: height)
            let room = try await tmux.waitFor("erin", "End of earlier")
            #expect(room.contains("for everyone") && !room.contains("just for erin"))
            try await tmux.waitFor("erin", "2:dave(1)")
            try tmux.press("erin", "M-2")
            try await tmux.waitFor("erin", "dave │ just for erin")
            await dave.close()
        }
    }
}
