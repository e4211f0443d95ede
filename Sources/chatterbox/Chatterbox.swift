import ArgumentParser

@main
struct Chatterbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatterbox",
        abstract: "An encrypted chat server and terminal client.",
        discussion: """
            Run a server:   chatterbox server "" -p 9000
            Connect to it:  chatterbox client localhost -p 9000 -ca ./chatterbox-data/ca.crt
            """,
        version: "0.1.0",
        subcommands: [ServerCommand.self, ClientCommand.self, BenchCommand.self, CompressionReportCommand.self]
    )
}
