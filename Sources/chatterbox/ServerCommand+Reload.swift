import ArgumentParser
import ChatServer
import Foundation
import Logging

/// SIGHUP's second half: the configuration read again (file, environment and the command line,
/// with the same precedence as at start), what can change live applied, the rest named.
extension ServerCommand {
    /// The settings a running server applies at SIGHUP; every other one needs a restart.
    static let liveSettingNames: Set<String> = [
        "operator", "motd", "motd-file", "message-rate", "message-burst", "max-connections",
        "max-connections-per-address", "log-level",
    ]

    /// The message of the day: --motd, or the contents of --motd-file (trailing new lines
    /// dropped); `nil` for none.
    func messageOfTheDay() throws -> String? {
        if let motd { return motd.isEmpty ? nil : motd }
        guard let motdFile else { return nil }
        do {
            var text = try String(contentsOfFile: motdFile, encoding: .utf8)
            while text.last?.isNewline == true { text.removeLast() }
            guard text.utf8.count <= 16 * 1024 else { throw ValidationError("--motd-file: \(motdFile) holds more than 16 KiB") }
            return text.isEmpty ? nil : text
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("--motd-file: cannot read \(motdFile): \(error.localizedDescription)")
        }
    }

    /// The settings of this command that a running server takes live.
    func liveSettings() throws -> LiveSettings {
        let limits = self.limits
        return LiveSettings(
            operators: operators, motd: try messageOfTheDay(), messagesPerSecond: limits.messagesPerSecond,
            messageBurst: limits.messageBurst, connections: limits.connections, connectionsPerAddress: limits.connectionsPerAddress)
    }

    /// Reads the configuration again as at start (this process's command line, its environment
    /// and the file they name) and applies what can change live; logs what changed, and names
    /// the settings that changed but need a restart. A configuration that cannot be read or is
    /// refused changes nothing.
    func reloadSettings(server: ChatServer, levelSwitch: LogLevelSwitch, logger: Logger) {
        let fresh: ServerCommand
        let live: LiveSettings
        do {
            fresh = try Self.currentConfiguration()
            live = try fresh.liveSettings()
        } catch {
            logger.error("SIGHUP: the configuration was not reloaded, the running settings stay: \(Self.message(for: error))")
            return
        }
        let before = Dictionary(ServerSettingsSources.values(of: self).map { ($0.name, $0.text) }, uniquingKeysWith: { first, _ in first })
        let changed = ServerSettingsSources.values(of: fresh).filter { before[$0.name] != $0.text }.map(\.name)
        var applied = server.reconfigure(live)
        if let level = Logger.Level(rawValue: fresh.logLevel), level != levelSwitch.level {
            levelSwitch.level = level
            applied.append("log level (\(level))")
        }
        let needRestart = changed.filter { !Self.liveSettingNames.contains($0) }
        logger.notice("SIGHUP: configuration reloaded; \(applied.isEmpty ? "nothing that applies live changed" : "applied: " + applied.joined(separator: ", ")).")
        if !needRestart.isEmpty {
            logger.warning("SIGHUP: these settings changed but need a restart to take effect: \(needRestart.joined(separator: ", "))")
        }
    }

    /// The server's configuration as it would start now: this process's arguments merged with
    /// the environment and the configuration file (``ServerSettingsSources``), parsed.
    static func currentConfiguration() throws -> ServerCommand {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "server" { arguments.removeFirst() }
        let sources = ServerSettingsSources(settings: ServerSettingsSources.settings(of: ServerCommand()))
        let merged = try sources.merged(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        return try ServerCommand.parse(merged)
    }
}
