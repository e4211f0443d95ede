import ArgumentParser
import Foundation

@main
struct Chatterbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatterbox",
        abstract: "An encrypted chat server and terminal client.",
        discussion: """
            Run a server:   chatterbox server "" -p 9000
            Connect to it:  chatterbox client localhost -p 9000 -ca ./chatterbox-data/ca.crt
            Administer it:  chatterbox admin --data-dir ./chatterbox-data who
            """,
        version: "0.1.0",
        subcommands: [ServerCommand.self, ClientCommand.self, AdminCommand.self, BenchCommand.self, CompressionReportCommand.self]
    )

    /// `chatterbox server` takes its settings from the environment and a configuration file
    /// too (``ServerSettingsSources``): they join the command line before it is parsed.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.first == "server", !arguments.contains("--help"), !arguments.contains("-h") else {
            await main(arguments)
            return
        }
        let sources = ServerSettingsSources(settings: ServerSettingsSources.settings(of: ServerCommand()))
        do {
            let merged = try sources.merged(arguments: Array(arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
            await main(["server"] + merged)
        } catch {
            Console.error("chatterbox: \(error)")
            Self.exit(withError: ExitCode.failure)
        }
    }
}
