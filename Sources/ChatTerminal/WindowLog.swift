public import Foundation
public import ChatClient
import ChatProtocol

/// A line for a window's log on disk: which window, and the text.
public struct LogLine: Sendable, Equatable {
    /// The window's name ("room", a user's name).
    public var window: String
    public var text: String

    public init(window: String, text: String) {
        self.window = window
        self.text = text
    }
}

/// Logs of windows on disk, irssi-style: `~/.local/share/chatterbox/logs/SERVER/WINDOW.log`
/// (`$XDG_DATA_HOME` honoured), plain text, one line per entry with its date and time, every
/// control character made visible (a log read with `cat` cannot act on the terminal).
public struct WindowLog: Sendable {
    /// The directory of one server's logs.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The logs directory for `server` under the user's data directory.
    public static func directory(for server: ServerEndpoint, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share"
        return base + "/chatterbox/logs/" + safeName("\(server.host)_\(server.port)")
    }

    /// A name fit for a file: letters, digits, `.`, `-` and `_` kept, anything else `_`, never
    /// hidden or a parent directory.
    static func safeName(_ name: String) -> String {
        var safe = String(name.lowercased().map { character in
            character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character)) ? character : "_"
        })
        if safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        return safe.isEmpty ? "_" : String(safe.prefix(100))
    }

    /// The file of window `name`.
    public func path(of window: String) -> String {
        directory + "/" + Self.safeName(window) + ".log"
    }

    /// Appends `lines` to their windows' files (created private to the user). Returns what
    /// went wrong, if anything.
    public func write(_ lines: [LogLine]) -> String? {
        guard !lines.isEmpty else { return nil }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var byFile: [String: String] = [:]
            var order: [String] = []
            for line in lines {
                let path = path(of: line.window)
                if byFile[path] == nil { order.append(path) }
                byFile[path, default: ""] += line.text + "\n"
            }
            for path in order {
                if !FileManager.default.fileExists(atPath: path) {
                    _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                }
                guard let handle = FileHandle(forWritingAtPath: path) else { return "cannot write \(path)" }
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data((byFile[path] ?? "").utf8))
            }
            return nil
        } catch {
            return "cannot write the logs in \(directory): \(error)"
        }
    }

    /// An entry as a log line: "2026-12-05 14:05:09 <alice> hello"; `nil` for what is not
    /// logged (date lines: every line has its date).
    static func text(of entry: ScrollbackEntry, timeZone: TimeZone) -> String? {
        let stamp = timestamp(entry.time, timeZone: timeZone)
        func clean(_ text: String) -> String {
            // Continuation lines indented, so a message cannot forge a line of the log.
            TerminalSanitizer.sanitize(text, keepNewlines: true).replacingOccurrences(of: "\n", with: "\n                    ")
        }
        switch entry.kind {
        case .message(let message, let highlight):
            if highlight != .server, let action = ActionText.action(in: message) {
                return "\(stamp) * \(clean(message.source)) \(clean(action))"
            }
            switch highlight {
            case .server: return "\(stamp) -\(clean(message.source))- \(clean(message.content))"
            case .directToMe, .directFromMe, .directBetweenOthers:
                return "\(stamp) <\(clean(message.source)) → \(clean(message.destination))> \(clean(message.content))"
            default: return "\(stamp) <\(clean(message.source))> \(clean(message.content))"
            }
        case .pastMessage, .dayChanged:
            return nil
        case .joined(let name): return "\(stamp) --> \(clean(name)) joined"
        case .left(let name): return "\(stamp) <-- \(clean(name)) left"
        case .info(let text), .notice(let text): return "\(stamp) -!- \(clean(text))"
        case .error(let text): return "\(stamp) !!! \(clean(text))"
        }
    }

    static func timestamp(_ time: Int64, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(time)))
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }
}
