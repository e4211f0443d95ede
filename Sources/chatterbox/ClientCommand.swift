import ArgumentParser
import ChatClient
import ChatTerminal
import Foundation
import Synchronization

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Connect to a chat server.",
        discussion: """
            Type a line to send it to everyone, @name text for a direct message, /Help for the \
            commands. /Quit (or end of input) leaves.

            On a terminal the client is full screen (scrollback, status bar, user list, line \
            editing). When standard input or output is not a terminal, or with --plain, it \
            prints one line per event instead; --json prints one JSON object per event.

            Several servers (nodes of one chat): give --server for each, with or instead of \
            HOST. The client connects to the first that answers, trying every address each \
            name resolves to, and when the connection drops moves on to the next, round robin.
            """
    )

    @Argument(help: "Server host name or address, or the name of a server saved in the config file (or give --server).")
    var host: String?

    @Option(name: .shortAndLong, help: "Server port (of HOST, and of each --server that names none; 9000 unless a saved server says otherwise).")
    var port: Int?

    @Option(help: ArgumentHelp("The client's config file (default: $XDG_CONFIG_HOME/chatterbox/client.toml, or ~/.config/chatterbox/client.toml).", valueName: "file"))
    var config: String?

    /// The port to use: given, or the default.
    var portNumber: Int { port ?? 9000 }

    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "A server to use, after HOST if given (repeatable): the client connects to the first that answers and, when the connection drops, moves on to the next. IPv6 addresses in brackets: [::1]:9000.",
            valueName: "host[:port]"
        )
    )
    var servers: [String] = []

    @Option(help: ArgumentHelp("Seconds each step of connecting to one address (name lookup, TCP connection, TLS handshake, the answer to the login) may take before the client moves on to the next.", valueName: "seconds"))
    var connectTimeout: Double = 10

    @Option(name: [.customLong("ca", withSingleDash: true), .customLong("ca")], help: "Trust only the CA certificate(s) in this PEM file (e.g. the server's generated ca.crt).")
    var caFile: String?

    @Flag(help: "Do not verify the server's certificate (vulnerable to interception).")
    var insecure = false

    @Flag(help: "Connect over plain TCP without TLS, to servers that never added TLS.")
    var plaintext = false

    @Option(name: [.customShort("u"), .customLong("user")], help: "Username to try first, before asking.")
    var user: String?

    @Option(help: "File whose first line is your account password (for a registered name). Without it the client asks when the server says the name needs one.")
    var passwordFile: String?

    @Flag(help: "Line mode even on a terminal: one line per event, no escape codes.")
    var plain = false

    @Flag(help: "For scripts and bots: one JSON object per event on standard output; standard input lines are typed lines.")
    var json = false

    @Flag(help: "With --json: leave out the messages the server replays at login (those missed while reconnecting still come).")
    var noHistory = false

    @Flag(inversion: .prefixedNo, help: "Ring the terminal bell for direct messages and mentions (full screen).")
    var bell: Bool?

    @Flag(inversion: .prefixedNo, help: "Show the list of users online beside the messages (full screen; F2 toggles it).")
    var userList: Bool?

    @Flag(help: "Stop when the connection drops instead of reconnecting.")
    var noReconnect = false

    @Option(help: "Longest wait between reconnection attempts, in seconds (waits double from half a second up to this).")
    var maxReconnectDelay: Double = 30

    @Flag(help: "Never offer Chatterbox's extensions at login: exactly the base protocol, for servers that choke on them.")
    var noExtensions = false

    @Option(help: ArgumentHelp("Where /Get saves files given no path (default: ~/Downloads when it exists, otherwise the working directory).", valueName: "directory"))
    var downloadDir: String?

    @Option(help: "At the end of the input, seconds to go on finishing what was started (lines still to send, transfers, answers) before stopping.")
    var linger: Double = 30

    func validate() throws {
        if plain, json { throw ValidationError("Choose either --plain or --json.") }
        if noHistory, !json { throw ValidationError("--no-history is for --json (bots); the other modes show the history.") }
        if host == nil, servers.isEmpty { throw ValidationError("Give the server: chatterbox client HOST [-p PORT], or --server HOST[:PORT] (repeatable).") }
        _ = try serverList()
        guard connectTimeout >= 0.1 else { throw ValidationError("--connect-timeout must be at least 0.1 seconds.") }
        guard maxReconnectDelay >= 0.1 else { throw ValidationError("--max-reconnect-delay must be at least 0.1 seconds.") }
        if plaintext, caFile != nil || insecure { throw ValidationError("--plaintext uses no TLS; drop -ca/--insecure.") }
        if insecure, caFile != nil { throw ValidationError("Choose either -ca or --insecure.") }
        guard (1...65535).contains(portNumber) else { throw ValidationError("Port must be 1...65535 (the server's port, 9000 unless it was started with another -p).") }
        guard linger >= 0 else { throw ValidationError("--linger must be 0 or more seconds.") }
        if let downloadDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: (downloadDir as NSString).expandingTildeInPath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--download-dir: \(downloadDir) is not a directory.")
            }
        }
    }

    /// HOST (with -p) first, then each --server in the order given, each once.
    func serverList() throws -> [ServerEndpoint] {
        var list: [ServerEndpoint] = []
        if let host { list.append(ServerEndpoint(host: host, port: portNumber)) }
        for text in servers {
            let server: ServerEndpoint
            do {
                server = try ServerEndpoint.parse(text, defaultPort: portNumber)
            } catch {
                throw ValidationError("--server \(error)")
            }
            if !list.contains(server) { list.append(server) }
        }
        return list
    }

    func run() async throws {
        var command = self
        let clientConfig = try command.applyConfigFile()
        try await command.connect(clientConfig)
    }

    /// Reads the config file (when there is one): a saved server named as HOST fills in
    /// what the command line leaves out; the download directory likewise.
    mutating func applyConfigFile() throws -> ClientConfig {
        let path = config.map { ($0 as NSString).expandingTildeInPath } ?? ClientConfig.defaultPath()
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            if config != nil {
                Console.error("chatterbox: cannot read the config file \(path)")
                throw ExitCode(2)
            }
            return ClientConfig()
        }
        let loaded: ClientConfig
        do {
            loaded = try ClientConfig.parse(text)
        } catch {
            Console.error("chatterbox: config file \(path): \(error)")
            throw ExitCode(2)
        }
        if let name = host, let saved = loaded.servers.first(where: { $0.name == name }) {
            host = saved.host
            if port == nil { port = saved.port }
            if caFile == nil, !insecure, !plaintext {
                caFile = saved.ca.map { ($0 as NSString).expandingTildeInPath }
                insecure = saved.insecure
                plaintext = saved.plaintext
            }
            if user == nil { user = saved.user }
        }
        if downloadDir == nil { downloadDir = loaded.settings.downloadDirectory }
        return loaded
    }

    func connect(_ clientConfig: ClientConfig) async throws {
        let configPath = config.map { ($0 as NSString).expandingTildeInPath } ?? ClientConfig.defaultPath()
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
        let reconnect: ReconnectPolicy = noReconnect
            ? .never
            : ReconnectPolicy(initialDelay: .milliseconds(min(500, Int(maxReconnectDelay * 1000))), maximumDelay: .milliseconds(Int(maxReconnectDelay * 1000)))
        var configuration = ChatEngine.Configuration(host: host ?? "", port: portNumber, security: security, initialUsername: user, reconnect: reconnect)
        configuration.servers = try serverList()
        configuration.connectTimeout = .milliseconds(Int64(connectTimeout * 1000))
        configuration.offersExtensions = !noExtensions
        configuration.downloadDirectory = downloadDir.map { ($0 as NSString).expandingTildeInPath }
        configuration.linger = .milliseconds(Int64(linger * 1000))
        if let passwordFile {
            guard let contents = try? String(contentsOfFile: passwordFile, encoding: .utf8),
                  let first = contents.split(separator: "\n", omittingEmptySubsequences: false).first, !first.isEmpty
            else {
                Console.error("chatterbox: cannot read a password from \(passwordFile)")
                throw ExitCode(2)
            }
            configuration.password = String(first)
        }
        let ending: ChatEngine.Ending
        var fullScreen = false
        do {
            if json {
                ending = try await JSONModeClient(configuration, skipsLoginHistory: noHistory).run(input: StandardInput.lines(), output: { Console.line($0) })
            } else if plain || isatty(0) == 0 || isatty(1) == 0 {
                ending = try await LineModeClient(configuration).run(
                    input: StandardInput.lines(),
                    output: { Console.line($0) },
                    prompt: { Console.write($0) },
                    hideNextLine: { StandardInput.hideNextLine() }
                )
            } else {
                do {
                    fullScreen = true
                    var settings = clientConfig.settings
                    if let userList { settings.userList = userList }
                    if let bell { settings.bell = bell }
                    ending = try await TerminalClient(configuration, settings: settings, configPath: configPath).run()
                    if case .serverClosed(let reason) = ending { Console.error(reason) }
                } catch let unavailable as TerminalUnavailable {
                    fullScreen = false
                    Console.error("chatterbox: cannot go full screen (\(unavailable)); using line mode.")
                    ending = try await LineModeClient(configuration).run(
                        input: StandardInput.lines(), output: { Console.line($0) }, prompt: { Console.write($0) },
                        hideNextLine: { StandardInput.hideNextLine() })
                }
            }
        } catch {
            Console.error("chatterbox: \(error)")
            throw ExitCode(2)
        }
        switch ending {
        case .quit: break
        case .serverClosed: throw ExitCode(1)
        case .incomplete(let problems):
            // Line and JSON modes have said it on standard output already.
            if fullScreen { Console.error("chatterbox: " + problems) }
            throw ExitCode(1)
        }
    }
}

/// Lines from standard input, read on a thread of their own so that a blocking read never
/// holds up the chat (works for a terminal, a pipe and a regular file alike).
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(1024))
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                // A password was typed without echo: echo back on, and end its line.
                if hiddenLine.withLock({ $0.take() }) != nil {
                    _ = withUnsafePointer(to: hiddenLine.withLock { $0.saved }) { tcsetattr(0, TCSANOW, $0) }
                    Console.line("")
                }
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.name = "chatterbox-stdin"
        thread.start()
        return stream
    }

    /// The terminal settings to restore after a hidden line.
    private struct HiddenLine {
        var pending = false
        var saved = termios()

        mutating func take() -> Void? {
            guard pending else { return nil }
            pending = false
            return ()
        }
    }

    private static let hiddenLine = Mutex(HiddenLine())

    /// Turns the terminal's echo off until the next line has been read (a password prompt).
    /// Does nothing when standard input is not a terminal.
    static func hideNextLine() {
        guard isatty(0) == 1 else { return }
        hiddenLine.withLock { state in
            guard !state.pending else { return }
            var settings = termios()
            guard tcgetattr(0, &settings) == 0 else { return }
            state.saved = settings
            settings.c_lflag &= ~tcflag_t(ECHO)
            if tcsetattr(0, TCSANOW, &settings) == 0 { state.pending = true }
        }
    }
}
