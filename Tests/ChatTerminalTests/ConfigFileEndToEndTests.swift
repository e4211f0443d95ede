import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// The config file in the real client: `chatterbox client work` connects to the saved
/// server with its CA and user, the settings apply, /Set and /Save write them back.
@Suite(.serialized) struct ConfigFileEndToEndTests {
    @Test(arguments: WindowsEndToEndTests.sizes) func aSavedServerAndSettingsAreUsedAndSaved(width: Int, height: Int) async throws {
        try await TerminalSetup.withServer { setup, tmux in
            let path = setup.directory + "/client.toml"
            try """
                [settings]
                seconds = true
                highlight = ["pizza"]

                [keys]
                next_window = "alt-n"

                [servers.work]
                host = "127.0.0.1"
                port = \(setup.server.port)
                ca = "\(setup.caPath)"
                user = "alice"
                """.write(toFile: path, atomically: true, encoding: .utf8)
            try tmux.startSession("alice", width: width, height: height, command: [
                ServerProcess.executable.path, "client", "work", "--config", path, "--max-reconnect-delay", "1",
            ])
            let screen = try await tmux.waitForScreen("alice", "the login through the saved server") { $0.contains("[alice") && $0.contains("connected") }
            #expect(screen.range(of: #"(?m)^\d\d:\d\d:\d\d "#, options: .regularExpression) != nil, "seconds = true")

            let bob = try await setup.rawClient("bob")
            try await bob.say("pizza is here", as: "bob")
            try await tmux.waitForScreen("alice", escapes: true, "the highlight word") {
                TerminalSetup.row(containing: "pizza is here", in: $0)?.contains("48;5;220m") == true
            }
            // The window key from the file.
            try await bob.say("psst", as: "bob", to: "alice")
            try await tmux.waitFor("alice", "2:bob(1)")
            try tmux.press("alice", "M-n")
            try await tmux.waitFor("alice", "[2:bob]")

            try tmux.type("alice", "/Set bell off")
            try tmux.press("alice", "Enter")
            try tmux.type("alice", "/Save")
            try tmux.press("alice", "Enter")
            try await tmux.waitFor("alice", "Settings saved")
            let saved = try String(contentsOfFile: path, encoding: .utf8)
            #expect(saved.contains("bell = false") && saved.contains("seconds = true"))
            #expect(saved.contains("[servers.work]") && saved.contains("user = 'alice'") || saved.contains("user = \"alice\""), "\(saved)")
            await bob.close()
        }
    }

    @Test func aMistakeInTheFileIsNamedAndTheClientDoesNotStart() async throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/client.toml"
        try "[settings]\nseconds = maybe\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await ServerProcess.runToExit(["client", "127.0.0.1", "--config", path, "--json"])
        #expect(result.status == 2)
        #expect(result.output.contains("config file \(path): line 2"), "\(result.output)")
    }
}
