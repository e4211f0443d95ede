import ArgumentParser
import ChatClient
import Foundation

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Connect to a chat server.",
        discussion: """
            Type a line to send it to everyone, @name text for a direct message, /Help for the \
            commands. /Quit (or end of input) leaves.
            """
    )

    @Argument(help: "Server host name or address.")
    var host: String

    @Option(name: .shortAndLong, help: "Server port.")
    var port: Int = 9000

    @Option(name: [.customLong("ca", withSingleDash: true), .customLong("ca")], help: "Trust only the CA certificate(s) in this PEM file (e.g. the server's generated ca.crt).")
    var caFile: String?

    @Flag(help: "Do not verify the server's certificate (vulnerable to interception).")
    var insecure = false

    @Flag(help: "Connect over plain TCP without TLS, to servers that never added TLS.")
    var plaintext = false

    @Option(name: [.customShort("u"), .customLong("user")], help: "Username to try first, before asking.")
    var user: String?

    func validate() throws {
        if plaintext, caFile != nil || insecure { throw ValidationError("--plaintext uses no TLS; drop -ca/--insecure.") }
        if insecure, caFile != nil { throw ValidationError("Choose either -ca or --insecure.") }
    }

    func run() async throws {
        let security: ConnectionSecurity
        if plaintext {
            security = .plaintext
            Console.error("WARNING: --plaintext: this connection is not encrypted.")
        } else if insecure {
            security = .tls(.insecure)
            Console.error("WARNING: --insecure: the server's identity is not checked.")
        } else if let caFile {
            security = .tls(.certificateAuthorityFile(caFile))
        } else {
            security = .tls(.system)
        }
        let client = LineModeClient(host: host, port: port, security: security, initialUsername: user)
        let ending: LineModeClient.Ending
        do {
            ending = try await client.run(
                input: StandardInput.lines(),
                output: { Console.line($0) },
                prompt: { Console.write($0) }
            )
        } catch {
            Console.error("chatterbox: \(error)")
            throw ExitCode(2)
        }
        if case .serverClosed = ending { throw ExitCode(1) }
    }
}

/// Lines from standard input, read on a thread of their own so that a blocking read never
/// holds up the chat (works for a terminal, a pipe and a regular file alike).
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(1024))
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.name = "chatterbox-stdin"
        thread.start()
        return stream
    }
}
