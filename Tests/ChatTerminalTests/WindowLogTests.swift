import ChatClient
import ChatProtocol
import ChatTerminal
import ChatTestSupport
import Foundation
import Testing

/// Logs of windows: which lines, in which file, escape-safe; off by default.
@Suite struct WindowLogTests {
    let time: Int64 = 1_700_000_000

    private func screen(logs: Bool) -> ChatScreen {
        var status = ClientStatus(host: "chat.example", port: 9000, security: .verifiedTLS)
        status.phase = .online
        status.username = "alice"
        status.serverUser = "Chatterbox"
        var screen = ChatScreen(status: status, clock: ClockFormat(timeZone: TimeZone(identifier: "UTC")!))
        _ = screen.apply(.status(status), now: time)
        var settings = screen.clientSettings
        settings.logs = logs
        screen.clientSettings = settings
        return screen
    }

    private func message(_ from: String, _ to: String, _ text: String) -> ClientUpdate {
        .event(.message(ChatMessage(source: from, destination: to, timestamp: time, content: text)))
    }

    @Test func liveLinesGoToTheirWindowsLogNotTheReplay() {
        var chat = screen(logs: true)
        _ = chat.apply(.event(.history([ChatMessage(source: "bob", destination: "ALL", timestamp: time, content: "replayed")])), now: time)
        _ = chat.takeLogLines()
        _ = chat.apply(message("bob", "ALL", "hello \u{1B}[2J\nsecond line"), now: time)
        _ = chat.apply(message("bob", "alice", "psst"), now: time)
        _ = chat.apply(message("carol", "ALL", "* carol waves"), now: time)
        _ = chat.apply(.event(.joined("dave")), now: time)
        let lines = chat.takeLogLines()
        #expect(lines == [
            LogLine(window: "room", text: "2023-11-14 22:13:20 <bob> hello ^[[2J\n                    second line"),
            LogLine(window: "bob", text: "2023-11-14 22:13:20 <bob> psst"),
            LogLine(window: "room", text: "2023-11-14 22:13:20 * carol waves"),
            LogLine(window: "room", text: "2023-11-14 22:13:20 --> dave joined"),
        ])
        #expect(chat.takeLogLines().isEmpty)
        var quiet = screen(logs: false)
        _ = quiet.apply(message("bob", "ALL", "not logged"), now: time)
        #expect(quiet.takeLogLines().isEmpty, "off by default")
    }

    @Test func filesArePerWindowPrivateAndNamedSafely() throws {
        let directory = TemporaryDirectory()
        let log = WindowLog(directory: directory.path + "/logs/server")
        #expect(log.write([LogLine(window: "room", text: "one"), LogLine(window: "../Evil/Name", text: "two"), LogLine(window: "room", text: "three")]) == nil)
        #expect(try String(contentsOfFile: log.path(of: "room"), encoding: .utf8) == "one\nthree\n")
        #expect(log.path(of: "../Evil/Name").hasSuffix("/logs/server/_._evil_name.log"))
        #expect(try String(contentsOfFile: log.path(of: "../Evil/Name"), encoding: .utf8) == "two\n")
        let mode = try FileManager.default.attributesOfItem(atPath: log.path(of: "room"))[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(WindowLog.directory(for: ServerEndpoint(host: "chat.example", port: 9000), environment: ["HOME": "/home/a"]) == "/home/a/.local/share/chatterbox/logs/chat.example_9000")
    }
}
