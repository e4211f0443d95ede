import ChatTerminal
import Foundation
import Testing

/// The config file: read through TOMLKit, mistakes named, /Save keeps the saved servers.
@Suite struct ClientConfigTests {
    @Test func readsSettingsKeysAndServers() throws {
        let config = try ClientConfig.parse("""
            [settings]
            seconds = true
            highlight = ["deploy", "lunch"]
            theme = "basic"
            hide_joins = true
            logs = true
            download_dir = "~/Incoming"

            [keys]
            next_window = "alt-n"
            previous_window = "f5"

            [servers.work]
            host = "chat.example.com"
            port = 9443
            ca = "~/work-ca.crt"
            user = "alice"
            """)
        #expect(config.settings.seconds && config.settings.hideJoins && config.settings.logs)
        #expect(config.settings.highlightWords == ["deploy", "lunch"])
        #expect(config.settings.theme == "basic" && config.settings.maximumColors == 8)
        #expect(config.settings.downloadDirectory == "~/Incoming")
        #expect(config.settings.nextWindowKey == "alt-n" && KeyBinding.parse(config.settings.previousWindowKey) == .function(5))
        #expect(config.servers == [SavedServer(name: "work", host: "chat.example.com", port: 9443, ca: "~/work-ca.crt", user: "alice")])
    }

    @Test(arguments: [
        ("[settings]\nseconds = \"yes\"", "settings.seconds must be true or false"),
        ("[settings]\nsecond = true", "unknown setting settings.second"),
        ("[settings]\ntheme = \"pink\"", "settings.theme must be one of"),
        ("[keys]\nnext_window = \"hyper-x\"", "keys.next_window must name a key"),
        ("[servers.work]\nport = 9000", "servers.work needs a host"),
        ("[servers.work]\nhost = \"h\"\nport = 70000", "port must be 1 to 65535"),
        ("colour = 3", "unknown section or key \"colour\""),
        ("[settings\nbell = true", "line 1"),
    ])
    func mistakesAreNamed(text: String, expected: String) {
        do {
            _ = try ClientConfig.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func savingKeepsTheServersAndReadsBack() throws {
        let existing = "[servers.work]\nhost = \"chat.example.com\"\nport = 9443\n"
        var settings = ClientSettings()
        settings.seconds = true
        settings.bell = false
        settings.highlightWords = ["pizza"]
        settings.nextWindowKey = "alt-n"
        let text = try ClientConfig.saving(settings, into: existing)
        let reread = try ClientConfig.parse(text)
        #expect(reread.settings == settings)
        #expect(reread.servers.map(\.host) == ["chat.example.com"] && reread.servers.first?.port == 9443)
    }

    @Test func theDefaultPathFollowsXDG() {
        #expect(ClientConfig.defaultPath(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/home/a"]) == "/x/chatterbox/client.toml")
        #expect(ClientConfig.defaultPath(environment: ["HOME": "/home/a"]) == "/home/a/.config/chatterbox/client.toml")
    }
}
