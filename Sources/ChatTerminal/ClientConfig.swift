public import Foundation
import TOMLKit

/// The full-screen client's preferences: read from the config file, changed by /Set and
/// the commands, written back by /Save.
public struct ClientSettings: Sendable, Equatable {
    /// Times of messages with seconds.
    public var seconds = false
    public var bell = true
    public var hideJoins = false
    public var userList = true
    public var highlightWords: [String] = []
    /// Colours: "default" (as many as the terminal has), "basic" (8) or "mono" (none).
    public var theme = "default"
    /// Keep a log of each window on disk.
    public var logs = false
    /// Where /Get saves files given no path.
    public var downloadDirectory: String?
    /// The keys for the next and the previous window ("ctrl-n", "alt-n", "f6"…); Alt-←/→
    /// always work too.
    public var nextWindowKey = "ctrl-n"
    public var previousWindowKey = "ctrl-p"

    public static let themes = ["default", "basic", "mono"]

    public init() {}

    /// The most colours the theme uses.
    public var maximumColors: Int {
        switch theme {
        case "mono": 0
        case "basic": 8
        default: Int.max
        }
    }
}

/// A server saved in the config file under a name: `chatterbox client work`.
public struct SavedServer: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    /// The CA certificate file to trust.
    public var ca: String?
    public var user: String?
    public var insecure = false
    public var plaintext = false

    public init(name: String, host: String, port: Int, ca: String? = nil, user: String? = nil, insecure: Bool = false, plaintext: Bool = false) {
        self.name = name
        self.host = host
        self.port = port
        self.ca = ca
        self.user = user
        self.insecure = insecure
        self.plaintext = plaintext
    }
}

/// `~/.config/chatterbox/client.toml`, through a real TOML parser (TOMLKit):
///
/// ```toml
/// [settings]
/// seconds = true
/// highlight = ["deploy", "lunch"]
/// theme = "basic"            # default | basic | mono
/// logs = true
/// download_dir = "~/Downloads"
///
/// [keys]
/// next_window = "ctrl-n"
/// previous_window = "ctrl-p"
///
/// [servers.work]
/// host = "chat.example.com"
/// port = 9000
/// ca = "~/work-ca.crt"
/// user = "alice"
/// ```
public struct ClientConfig: Sendable, Equatable {
    public var settings = ClientSettings()
    public var servers: [SavedServer] = []

    public init() {}

    /// The default place: `$XDG_CONFIG_HOME/chatterbox/client.toml`, or under `~/.config`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/chatterbox/client.toml"
    }

    /// A mistake in the file, with where it is.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Reads the text of a config file; unknown keys are mistakes (a typo should not be
    /// silently ignored).
    public static func parse(_ text: String) throws -> ClientConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw Problem(description: "line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        var config = ClientConfig()
        for key in table.keys where !["settings", "keys", "servers"].contains(key) {
            throw Problem(description: "unknown section or key \"\(key)\" (expected [settings], [keys], [servers.NAME])")
        }
        if let settings = table["settings"] {
            guard let settings = settings.table else { throw Problem(description: "settings must be a table: [settings]") }
            for key in settings.keys {
                let value = settings[key]!
                func bool() throws -> Bool {
                    guard let flag = value.bool else { throw Problem(description: "settings.\(key) must be true or false") }
                    return flag
                }
                switch key {
                case "seconds": config.settings.seconds = try bool()
                case "bell": config.settings.bell = try bool()
                case "hide_joins": config.settings.hideJoins = try bool()
                case "user_list": config.settings.userList = try bool()
                case "logs": config.settings.logs = try bool()
                case "highlight":
                    guard let words = value.array?.map({ $0.string }), words.allSatisfy({ $0 != nil }) else {
                        throw Problem(description: "settings.highlight must be a list of words: [\"deploy\", \"lunch\"]")
                    }
                    config.settings.highlightWords = words.compactMap { $0 }
                case "theme":
                    guard let theme = value.string, ClientSettings.themes.contains(theme) else {
                        throw Problem(description: "settings.theme must be one of \(ClientSettings.themes.joined(separator: ", "))")
                    }
                    config.settings.theme = theme
                case "download_dir":
                    guard let directory = value.string else { throw Problem(description: "settings.download_dir must be a string") }
                    config.settings.downloadDirectory = directory
                default:
                    throw Problem(description: "unknown setting settings.\(key)")
                }
            }
        }
        if let keys = table["keys"] {
            guard let keys = keys.table else { throw Problem(description: "keys must be a table: [keys]") }
            for key in keys.keys {
                guard let spec = keys[key]?.string, KeyBinding.parse(spec) != nil else {
                    throw Problem(description: "keys.\(key) must name a key such as \"ctrl-n\", \"alt-n\" or \"f6\"")
                }
                switch key {
                case "next_window": config.settings.nextWindowKey = spec
                case "previous_window": config.settings.previousWindowKey = spec
                default: throw Problem(description: "unknown key binding keys.\(key) (next_window, previous_window)")
                }
            }
        }
        if let servers = table["servers"] {
            guard let servers = servers.table else { throw Problem(description: "servers must be tables: [servers.NAME]") }
            for name in servers.keys.sorted() {
                guard let server = servers[name]?.table else { throw Problem(description: "servers.\(name) must be a table") }
                guard let host = server["host"]?.string else { throw Problem(description: "servers.\(name) needs a host") }
                var saved = SavedServer(name: name, host: host, port: 9000)
                for key in server.keys {
                    let value = server[key]!
                    switch key {
                    case "host": break
                    case "port":
                        guard let port = value.int, (1...65535).contains(port) else { throw Problem(description: "servers.\(name).port must be 1 to 65535") }
                        saved.port = port
                    case "ca": saved.ca = value.string
                    case "user": saved.user = value.string
                    case "insecure": saved.insecure = value.bool ?? false
                    case "plaintext": saved.plaintext = value.bool ?? false
                    default: throw Problem(description: "unknown key servers.\(name).\(key) (host, port, ca, user, insecure, plaintext)")
                    }
                }
                config.servers.append(saved)
            }
        }
        return config
    }

    /// The file's text with `settings` written into it, keeping its servers (and whatever
    /// else it holds). Comments are not kept: the file is written by a TOML writer.
    public static func saving(_ settings: ClientSettings, into existing: String?) throws -> String {
        let table = (try? existing.map { try TOMLTable(string: $0) }) ?? nil ?? TOMLTable()
        let section = TOMLTable()
        section["seconds"] = settings.seconds
        section["bell"] = settings.bell
        section["hide_joins"] = settings.hideJoins
        section["user_list"] = settings.userList
        section["logs"] = settings.logs
        section["theme"] = settings.theme
        section["highlight"] = TOMLArray(settings.highlightWords)
        if let directory = settings.downloadDirectory { section["download_dir"] = directory }
        table["settings"] = section
        let keys = TOMLTable()
        keys["next_window"] = settings.nextWindowKey
        keys["previous_window"] = settings.previousWindowKey
        table["keys"] = keys
        return "# Chatterbox client settings (/Save writes this file; /Help lists the settings).\n" + table.convert(to: .toml) + "\n"
    }
}

/// A key named in the config file.
public enum KeyBinding {
    /// "ctrl-n" → Ctrl-N, "alt-n" → Alt-N, "f6" → F6, "alt-right" → Alt-→; `nil` otherwise.
    public static func parse(_ spec: String) -> Key? {
        let text = spec.lowercased()
        if text == "alt-right" { return .altRight }
        if text == "alt-left" { return .altLeft }
        if text.hasPrefix("ctrl-"), text.count == 6, let letter = text.last, letter.isLetter, letter.isASCII { return .ctrl(letter) }
        if text.hasPrefix("alt-"), text.count == 5, let character = text.last, character.isASCII, !character.isWhitespace { return .alt(character) }
        if text.hasPrefix("f"), let number = Int(text.dropFirst()), (1...12).contains(number) { return .function(number) }
        return nil
    }
}
