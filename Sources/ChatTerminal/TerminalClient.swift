public import ChatClient
import CTerminalSupport
import Foundation

/// The full-screen client: ncurses output, keys from their own thread, the ``ChatEngine`` in a
/// task, and one loop that owns the ``ChatScreen`` and draws it.
public struct TerminalClient: Sendable {
    /// Where to connect and how to behave when the connection drops.
    public var configuration: ChatEngine.Configuration
    /// Show the user list when there is room (F2 toggles it).
    public var showUserList: Bool
    /// Ring the bell for direct messages and mentions (/Bell toggles it).
    public var bellEnabled: Bool

    /// The user's settings (config file, then the command line).
    public var settings: ClientSettings
    /// Where /Save writes the settings.
    public var configPath: String?

    public init(_ configuration: ChatEngine.Configuration, showUserList: Bool = true, bellEnabled: Bool = true) {
        self.configuration = configuration
        self.showUserList = showUserList
        self.bellEnabled = bellEnabled
        var settings = ClientSettings()
        settings.userList = showUserList
        settings.bell = bellEnabled
        self.settings = settings
    }

    /// A client with the user's `settings`; /Save writes them to `configPath`.
    public init(_ configuration: ChatEngine.Configuration, settings: ClientSettings, configPath: String?) {
        self.configuration = configuration
        showUserList = settings.userList
        bellEnabled = settings.bell
        self.settings = settings
        self.configPath = configPath
    }

    /// Everything the UI loop reacts to.
    private enum Event: Sendable {
        case terminal(TerminalInput)
        case update(ClientUpdate)
        case tick
        case draw
        case ended(Result<ChatEngine.Ending, any Error>)
    }

    /// Takes over the terminal until the user quits; gives it back as it was, also on error.
    /// Throws when the terminal cannot be used or the first connection fails.
    public func run() async throws -> ChatEngine.Ending {
        let terminal = try CursesTerminal(maximumColors: settings.maximumColors)
        let signals = chatterbox_signal_pipe_open()
        defer { chatterbox_signal_pipe_close() }
        let (events, sink) = AsyncStream<Event>.makeStream()
        let reader = KeyReader(signalDescriptor: signals, terminfoKeys: terminal.terminfoKeys()) { sink.yield(.terminal($0)) }
        reader.start()

        var engineConfiguration = configuration
        engineConfiguration.extraHelpLines = ChatScreen.helpLines
        let engine = ChatEngine(engineConfiguration)
        let (lines, typing) = AsyncStream<String>.makeStream()
        let engineTask = Task {
            do {
                let ending = try await engine.run(input: lines) { sink.yield(.update($0)) }
                sink.yield(.ended(.success(ending)))
            } catch {
                sink.yield(.ended(.failure(error)))
            }
        }
        // The clock in the status bar and the reconnection countdown.
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                sink.yield(.tick)
            }
        }

        var screen = ChatScreen(
            status: ClientStatus(host: configuration.host, port: configuration.port, security: SecurityLevel(configuration.security)),
            showUserList: showUserList,
            bellEnabled: bellEnabled,
            paletteSize: terminal.paletteSize
        )
        screen.clientSettings = settings
        let logs = WindowLog(directory: WindowLog.directory(for: configuration.servers.first ?? ServerEndpoint(host: configuration.host, port: configuration.port)))
        var lastLogProblem: String?
        if settings.logs { screen.addNotice("Logging the windows to \(logs.directory)/ (/Set logs off stops).", now: Self.now) }
        var drawPending = false
        var outcome: Result<ChatEngine.Ending, any Error> = .success(.quit)
        terminal.draw(screen.compose(rows: terminal.rows, columns: terminal.columns, now: Self.now))
        loop: for await event in events {
            var effects: [ChatScreen.Effect] = []
            switch event {
            case .terminal(.keys(let keys)):
                for key in keys { effects += screen.handle(key) }
            case .terminal(.resized):
                terminal.resize()
            case .terminal(.terminate), .terminal(.endOfInput):
                engineTask.cancel()
            case .update(let update):
                effects = screen.apply(update, now: Self.now)
            case .tick:
                break
            case .draw:
                drawPending = false
                terminal.draw(screen.compose(rows: terminal.rows, columns: terminal.columns, now: Self.now))
                continue
            case .ended(let result):
                outcome = result
                break loop
            }
            for effect in effects {
                switch effect {
                case .send(let line): typing.yield(line)
                case .quit: engineTask.cancel()
                case .bell: terminal.bell()
                case .repaint: terminal.repaint()
                case .save(let settings): screen.addNotice(save(settings), now: Self.now)
                }
            }
            let logLines = screen.takeLogLines()
            if !logLines.isEmpty, let problem = logs.write(logLines), problem != lastLogProblem {
                lastLogProblem = problem
                screen.addNotice("Logs: " + problem, now: Self.now)
            }
            // Draw once after everything already waiting has been taken in.
            if !drawPending {
                drawPending = true
                sink.yield(.draw)
            }
        }
        ticker.cancel()
        typing.finish()
        reader.stop()
        terminal.end()
        return try outcome.get()
    }

    /// Writes `settings` into the config file, keeping its saved servers; says how it went.
    private func save(_ settings: ClientSettings) -> String {
        guard let configPath else { return "No config file to save to." }
        do {
            let existing = try? String(contentsOfFile: configPath, encoding: .utf8)
            let text = try ClientConfig.saving(settings, into: existing)
            try FileManager.default.createDirectory(atPath: (configPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: configPath, atomically: true, encoding: .utf8)
            return "Settings saved to \(configPath)."
        } catch {
            return "Could not save the settings to \(configPath): \(error)"
        }
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
