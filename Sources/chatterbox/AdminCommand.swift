import ArgumentParser
import ChatServer

/// `chatterbox admin`: runs an operator command on the server of a data directory, through
/// its admin socket (DATA_DIR/admin.sock, which only the server's own user may use).
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Administer a running server from its machine: kick, ban, unban, bans, announce, who, stats.",
        discussion: """
            Examples:
              chatterbox admin --data-dir /var/lib/chatterbox who
              chatterbox admin kick bob flooding the room
              chatterbox admin ban 203.0.113.0/24 7d spam from this network
              chatterbox admin ban bob 2h
              chatterbox admin unban bob
              chatterbox admin announce The server restarts at 22:00 UTC.
              chatterbox admin stats
            DURATION: 90s, 30m, 12h, 7d, 4w (none: until lifted). Run it as the user the \
            server runs as (with systemd's DynamicUser: systemd-run -p DynamicUser=yes ... or \
            sudo): the socket serves nobody else.
            """
    )

    @Option(name: .customLong("data-dir"), help: "The server's data directory (where admin.sock is).")
    var dataDirectory: String = "./chatterbox-data"

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Int = 10

    @Argument(parsing: .captureForPassthrough, help: "The command and its operands.")
    var command: [String] = []

    func run() throws {
        guard !command.isEmpty else {
            throw ValidationError("Name a command: kick, ban, unban, bans, announce, who, stats (or help).")
        }
        let path = AdminClient.socketPath(inDataDirectory: dataDirectory)
        let reply: AdminReply
        do {
            reply = try AdminClient.send(command.joined(separator: " "), socketPath: path, timeoutSeconds: max(1, timeout))
        } catch {
            Console.error("chatterbox admin: \(error)")
            throw ExitCode.failure
        }
        for line in reply.lines {
            if reply.ok { Console.line(line) } else { Console.error(line) }
        }
        if !reply.ok { throw ExitCode.failure }
    }
}
