import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

/// Logs written by the real client, turned on in the config file.
@Suite(.serialized) struct WindowLogEndToEndTests {
    @Test(arguments: WindowsEndToEndTests.sizes) func eachWindowIsLoggedToItsFile(width: Int, height: Int) async throws {
        try await TerminalSetup.withServer { setup, tmux in
            let config = setup.directory + "/client.toml"
            try "[settings]\nlogs = true\n".write(toFile: config, atomically: true, encoding: .utf8)
            let data = setup.directory + "/data"
            try await setup.startClient("alice", in: tmux, width: width, height: height, extra: ["--config", config], environment: ["XDG_DATA_HOME=\(data)"])
            let bob = try await setup.rawClient("bob")
            try await bob.say("hello \u{1B}]0;pwned\u{07}room", as: "bob")
            try await bob.say("just for alice", as: "bob", to: "alice")
            try await tmux.waitFor("alice", "2:bob(1)")
            let directory = data + "/chatterbox/logs/127.0.0.1_\(setup.server.port)"
            let room = try String(contentsOfFile: directory + "/room.log", encoding: .utf8)
            #expect(room.range(of: #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d <bob> hello \^\[\]0;pwned\^Groom"#, options: .regularExpression) != nil, "\(room)")
            #expect(!room.contains("\u{1B}"))
            let conversation = try String(contentsOfFile: directory + "/bob.log", encoding: .utf8)
            #expect(conversation.contains("<bob> just for alice"))
            await bob.close()
        }
    }
}
