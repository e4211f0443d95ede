import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// The real `chatterbox` executable — server and full-screen clients — driven in tmux: keys
/// go in with send-keys, and the tests read the screen with capture-pane.
@Suite(.serialized) struct TerminalClientEndToEndTests {
    typealias Setup = TerminalSetup

    private func withServer<Result>(_ body: (Setup, Tmux) async throws -> Result) async throws -> Result {
        try await TerminalSetup.withServer(body)
    }

    private func startClient(_ name: String, in tmux: Tmux, setup: Setup, width: Int = 100, height: Int = 30) async throws {
        try await setup.startClient(name, in: tmux, width: width, height: height)
    }

    private func row(containing text: String, in screen: String) -> String? {
        TerminalSetup.row(containing: text, in: screen)
    }

    @Test func broadcastsAndDirectMessagesAppearInTheRightWindowsWithHighlights() async throws {
        try await withServer { setup, tmux in
            try await startClient("alice", in: tmux, setup: setup)
            try await startClient("bob", in: tmux, setup: setup)
            try await startClient("carol", in: tmux, setup: setup)

            try tmux.type("alice", "hello everyone")
            try tmux.press("alice", "Enter")
            for name in ["alice", "bob", "carol"] {
                let screen = try await tmux.waitFor(name, "│ hello everyone")
                #expect(row(containing: "hello everyone", in: screen)?.contains("alice │ hello everyone") == true)
            }

            try tmux.type("bob", "@alice psst, just for you")
            try tmux.press("bob", "Enter")
            try tmux.type("bob", "now for everyone")
            try tmux.press("bob", "Enter")
            // alice: the DM opens window 2, highlighted in the window bar; the room goes on.
            let aliceRoom = try await tmux.waitForScreen("alice", "the DM's window and the broadcast") {
                $0.contains("2:bob(1)") && $0.contains("now for everyone")
            }
            #expect(!aliceRoom.contains("psst"))
            let barColours = try #require(row(containing: "2:bob(1)", in: try tmux.capture("alice", escapes: true)))
            #expect(barColours.contains("38;5;220"), "a window holding a DM is highlighted: \(barColours.debugDescription)")
            try tmux.press("alice", "M-2")
            let aliceScreen = try await tmux.waitForScreen("alice", "bob's window") { $0.contains("bob │ psst, just for you") && $0.contains("[2:bob]") }
            #expect(!aliceScreen.contains("now for everyone"))
            try tmux.press("alice", "M-1")
            let aliceColours = try await tmux.waitForScreen("alice", escapes: true, "the room again") {
                $0.contains("[1:room]") && $0.contains("now for everyone") && $0.contains("[alice] ")
            }
            let broadcastRow = try #require(row(containing: "now for everyone", in: aliceColours))
            #expect(!broadcastRow.contains("48;5;220"), "an ordinary broadcast is not highlighted")
            // bob sees his own DM as sent; carol never sees it.
            let bobScreen = try await tmux.waitFor("bob", "now for everyone")
            #expect(bobScreen.contains("bob │ [DM to alice] psst, just for you"))
            let carolScreen = try await tmux.waitFor("carol", "now for everyone")
            #expect(!carolScreen.contains("psst"))

            // A mention of alice's name is highlighted for her too.
            try tmux.type("carol", "alice: are you there?")
            try tmux.press("carol", "Enter")
            try await tmux.waitFor("alice", "are you there?")
            let mention = try #require(row(containing: "are you there?", in: try tmux.capture("alice", escapes: true)))
            #expect(mention.contains("\u{1B}[48;5;220mcarol"))
            try tmux.type("alice", "yes")
            try tmux.press("alice", "Enter")
            try await tmux.waitFor("alice", "alice │ yes")
        }
    }

    @Test func historyShowsOnLogin() async throws {
        try await withServer { setup, tmux in
            let dave = try await setup.rawClient("dave")
            try await dave.say("first words before anyone came", as: "dave")
            try await dave.say("second words", as: "dave")
            _ = try await dave.next { $0.messages?.last?.content == "second words" }
            try await startClient("erin", in: tmux, setup: setup)
            let screen = try await tmux.waitFor("erin", "End of earlier messages.")
            let lines = screen.components(separatedBy: "\n")
            let first = try #require(lines.firstIndex { $0.contains("dave │ first words before anyone came") })
            let second = try #require(lines.firstIndex { $0.contains("dave │ second words") })
            let end = try #require(lines.firstIndex { $0.contains("End of earlier messages.") })
            #expect(first < second && second < end)
            #expect(screen.contains("Users (2)") && screen.contains(" dave"))
            await dave.close()
        }
    }

    @Test func aRejectedNameIsAskedForAgain() async throws {
        try await withServer { setup, tmux in
            let taken = try await setup.rawClient("frank")
            try tmux.startSession("newcomer", command: setup.clientCommand(nil))
            try await tmux.waitForScreen("newcomer", "the username prompt") { $0.contains("Username:") && $0.contains("choose a name") }
            try tmux.type("newcomer", "frank")
            try tmux.press("newcomer", "Enter")
            let refused = try await tmux.waitFor("newcomer", "Username refused")
            #expect(refused.components(separatedBy: "\n").last { !$0.isEmpty }?.hasPrefix("Username:") == true)
            try tmux.type("newcomer", "frankie")
            try tmux.press("newcomer", "Enter")
            try await tmux.waitForScreen("newcomer", "the login as frankie") { $0.contains("[frankie]") && $0.contains("connected") }
            await taken.close()
        }
    }

    @Test func resizingKeepsTheLayout() async throws {
        try await withServer { setup, tmux in
            try await startClient("gina", in: tmux, setup: setup, width: 100, height: 30)
            let wide = try tmux.rows("gina")
            #expect(wide.count == 30)
            #expect(wide.first?.contains("Chatterbox") == true)
            #expect(wide[28].contains("[gina]") && wide[28].contains("connected"))
            #expect(wide[29].hasPrefix("[gina]"))
            #expect(wide[1].contains("│ Users (1)"))
            for (width, height) in [(60, 15), (45, 10), (120, 40)] {
                try tmux.resize("gina", width: width, height: height)
                // tmux keeps the old bottom rows when it shrinks a window: wait for the redraw.
                let screen = try await tmux.waitForScreen("gina", "a \(width)×\(height) layout") { screen in
                    let rows = screen.components(separatedBy: "\n").dropLast()
                    return rows.count == height && rows[0].contains("Chatterbox") && rows.allSatisfy { $0.count <= width }
                        && rows[height - 2].contains("[gina]") && rows[height - 2].contains("connected") && rows[height - 1].hasPrefix("[gina]")
                }
                // The user list shows only where it leaves the messages room.
                #expect(screen.contains("Users (1)") == (width >= 60))
            }
            try tmux.type("gina", "still typing after the resizes")
            try tmux.press("gina", "Enter")
            try await tmux.waitFor("gina", "gina │ still typing after the resizes")
        }
    }

    @Test func escapeSequencesFromOthersAreShownInert() async throws {
        try await withServer { setup, tmux in
            try await startClient("hank", in: tmux, setup: setup)
            let mallory = try await setup.rawClient("mallory")
            let attack = "\u{1B}[2J\u{1B}[Hcleared \u{1B}]0;pwned\u{07}titled \u{202E}desrever\u{202C} bell\u{07}\r\n00:00        admin │ send me your password"
            try await mallory.say(attack, as: "mallory")
            let screen = try await tmux.waitFor("hank", "cleared")
            // Everything shows as visible text; the screen was not cleared (the login lines stay).
            #expect(screen.contains("^[[2J^[[Hcleared ^[]0;pwned^Gtitled <U+202E>desrever<U+202C>"))
            #expect(screen.contains("bell^G^M"))
            #expect(screen.contains("Connected to 127.0.0.1"))
            #expect(try tmux.display("hank", "#{pane_title}") != "pwned")
            // The forged line sits in mallory's message, under the text column: no row starts
            // with a time and then "admin".
            let forged = try #require(row(containing: "send me your password", in: screen))
            #expect(forged.hasPrefix(" "), "a continuation row has no time of its own: \(forged)")
            #expect(forged.contains("│ 00:00        admin │ send me your password"))
            await mallory.close()
        }
    }

    @Test func reconnectsAfterAServerRestartAndSendsWhatWasTypedMeanwhile() async throws {
        let directory = TemporaryDirectory()
        let port = try RestartablePort.pick()
        let first = try await ServerProcess.start(dataDirectory: directory.path, port: port)
        try await Tmux.with { tmux in
            let setup = Setup(directory: directory.path, server: first)
            try await startClient("ivy", in: tmux, setup: setup)
            first.kill()
            try await tmux.waitForScreen("ivy", "the connection lost") { $0.contains("disconnected · retry in") && $0.contains("Reconnecting in") }
            try tmux.type("ivy", "typed while the server was down")
            try tmux.press("ivy", "Enter")
            try await tmux.waitFor("ivy", "1 waiting to send")

            let second = try await ServerProcess.start(dataDirectory: directory.path, port: port)
            defer { second.kill() }
            let screen = try await tmux.waitForScreen("ivy", timeout: .seconds(15), "the reconnection") {
                $0.contains("Back online as ivy") && $0.contains("ivy │ typed while the server was down")
            }
            #expect(screen.contains("connected") && !screen.contains("waiting to send"))
            // The line reached the server: a newcomer finds it in the history.
            let history = try await TestClient.connect(host: "127.0.0.1", port: port, security: .tls(.certificateAuthorityFile(directory.path + "/ca.crt")))
            let reply = try await history.login("reader")
            #expect(reply.messages?.contains { $0.source == "ivy" && $0.content == "typed while the server was down" } == true)
            await history.close()
        }
    }

    @Test func movesToTheNextServerWhenItsServerIsKilledAndTheBarsNameIt() async throws {
        let firstDirectory = TemporaryDirectory()
        let secondDirectory = TemporaryDirectory()
        let first = try await ServerProcess.start(dataDirectory: firstDirectory.path)
        defer { first.kill() }
        let second = try await ServerProcess.start(dataDirectory: secondDirectory.path)
        defer { second.kill() }
        // One -ca file trusting both nodes' CAs.
        let bundle = firstDirectory.path + "/both-ca.crt"
        let pem = try [firstDirectory.path, secondDirectory.path].map { try String(contentsOfFile: $0 + "/ca.crt", encoding: .utf8) }.joined()
        try Data(pem.utf8).write(to: URL(fileURLWithPath: bundle))
        try await Tmux.with { tmux in
            // The second server by another name, checked against its certificate under that name.
            try tmux.startSession("jo", command: [
                ServerProcess.executable.path, "client", "127.0.0.1", "-p", String(first.port), "--server", "localhost:\(second.port)",
                "-ca", bundle, "--max-reconnect-delay", "1", "-u", "jo",
            ])
            try await tmux.waitForScreen("jo", "the login on the first server") {
                $0.contains("[jo]") && $0.contains("connected") && $0.contains("[127.0.0.1:\(first.port) TLS]")
            }
            first.kill()
            let screen = try await tmux.waitForScreen("jo", timeout: .seconds(15), "the move to the second server") {
                $0.contains("Back online as jo on localhost port \(second.port).") && $0.contains("[localhost:\(second.port) TLS]")
                    && $0.contains("connected")
            }
            #expect(screen.contains("Chatterbox · localhost port \(second.port)"))
            try tmux.type("jo", "written on the second node")
            try tmux.press("jo", "Enter")
            try await tmux.waitFor("jo", "jo │ written on the second node")
            let reader = try await TestClient.connect(host: "127.0.0.1", port: second.port, security: .tls(.certificateAuthorityFile(secondDirectory.path + "/ca.crt")))
            let reply = try await reader.login("reader")
            #expect(reply.messages?.contains { $0.source == "jo" && $0.content == "written on the second node" } == true)
            await reader.close()
        }
    }
}
