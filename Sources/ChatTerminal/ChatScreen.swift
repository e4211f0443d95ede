public import ChatClient
import ChatProtocol

/// Everything the full-screen client shows and how it reacts to keys and to the engine: the
/// scrollback, the input line, the status, the user list. Pure state, no terminal: the
/// curses layer draws what ``compose(rows:columns:now:)`` returns.
public struct ChatScreen: Sendable {
    /// What the screen asks its owner to do.
    public enum Effect: Sendable, Equatable {
        /// Give this line to the engine.
        case send(String)
        /// Leave (Ctrl-C).
        case quit
        /// Ring the terminal bell.
        case bell
        /// Repaint the whole terminal (Ctrl-L).
        case repaint
        /// Write the settings to the config file (/Save).
        case save(ClientSettings)
    }

    /// The input line.
    public var editor = LineEditor()
    /// The windows, in the order of their numbers: the room first, then conversations with
    /// one user and search results, as they opened.
    public internal(set) var windows: [ChatWindow]
    /// The window shown (an index into ``windows``; window number `currentWindow + 1`).
    public internal(set) var currentWindow = 0
    /// The conversation shown and how far it is scrolled.
    public internal(set) var scrollback: Scrollback {
        get { windows[currentWindow].scrollback }
        set { windows[currentWindow].scrollback = newValue }
    }
    /// The engine's latest status (status bar, user list, completion).
    public internal(set) var status: ClientStatus
    /// The user asked for the user list (F2, Alt-U); it shows when the screen is wide enough.
    public var showUserList: Bool
    /// Ring the bell for direct messages and mentions.
    public var bellEnabled: Bool
    /// The next line entered is the username.
    public internal(set) var askingForUsername = false
    /// The next line entered is a secret (a password), with this prompt: masked on screen,
    /// kept out of input history.
    public internal(set) var askingForSecret: String?
    /// The server's welcome, shown once (not again after each reconnection).
    public internal(set) var welcome: String?
    var completion: Completion?
    /// Why the last reconnection attempt failed, so that the same reason is not repeated.
    var lastFailedAttempt: String?
    /// Servers skipped (as said) since the last connection, so that each round of attempts
    /// does not repeat them.
    var skippedShown: Set<String> = []
    /// How times are written (seconds or not: /Set seconds).
    public internal(set) var clock: ClockFormat
    /// Words that highlight a message like a mention of the user's name (/Highlight).
    public var highlightWords: [String] = []
    /// Hide joins and leaves (/Filter joins).
    public var hideJoins = false
    /// Why the user is away (/Away); `nil` while here.
    public internal(set) var awayReason: String?
    /// Senders already told, since the user went away, that the user is away.
    var awayAnswered: Set<String> = []
    /// Others who said they are away (by lowercased name), with their reason.
    public internal(set) var awayUsers: [String: String] = [:]
    /// Colours in the theme's name palette.
    public var paletteSize: Int
    /// The rows of the window shown, laid out for the last geometry.
    var layoutCache: LayoutCache {
        get { windows[currentWindow].layoutCache }
        set { windows[currentWindow].layoutCache = newValue }
    }
    /// Most windows open at once; direct messages from more users go to the room.
    public static let maximumWindows = 60
    /// The keys for the next and the previous window (config file, [keys]).
    public var nextWindowKey: Key = .ctrl("n")
    public var previousWindowKey: Key = .ctrl("p")
    /// The colour theme's name (takes effect at the next start).
    public var theme = "default"
    /// Keep a log of each window on disk.
    public var logsEnabled = false
    /// Lines for the logs on disk, taken by the owner after each update (``takeLogLines()``).
    var pendingLogLines: [LogLine] = []
    /// Most lines waiting for the logs; beyond it the oldest go (the owner takes them often).
    static let logLineLimit = 10_000
    /// Set while history is replayed: it was logged when it was new.
    var replaying = false
    /// Where /Get saves files given no path, as the config file says.
    public var downloadDirectory: String?
    /// PgUp at the top asked the server for an older page, not answered yet.
    var pagingPending = false
    /// The server said the history has nothing older.
    public internal(set) var historyExhausted = false
    /// Ctrl-R: the search through the window's scrollback under way.
    public internal(set) var localSearch: LocalSearch?
    /// The time of the latest update, for the client's own notices.
    var lastNow: Int64 = 0
    /// The message pane's geometry at the last composition, for scrolling by pages.
    var lastPane = (height: 20, width: 80)

    /// Commands the client runs itself, on top of the chat commands.
    public static let localCommands = ["Bell", "Clear", "Query", "Close", "Win", "Me", "Away", "Back", "Highlight", "Filter", "Set", "Save"]
    /// Commands the engine runs itself (for completion).
    static let engineCommands = ["Reconnect"]
    /// Help for ``localCommands`` and the keys, appended to /Help.
    public static let helpLines = [
        "  /Bell [on|off] - ring the bell for direct messages and mentions",
        "  /Clear - clear the messages of this window",
        "  /Query <username> [message] - open a window for direct messages with a user",
        "  /Close [N] - close this window (or window N)",
        "  /Win <N|next|prev|list> - switch windows, or list them",
        "  /Me <action> - say what you do: * you waves",
        "  /Away [reason] - say you are away (shown to others; one automatic answer to each DM) · /Back",
        "  /Highlight [add|remove <word>] - words that highlight a message like your name",
        "  /Filter joins [on|off] - hide joins and leaves",
        "  /Set [setting [value]] - show or change a setting (seconds, bell, joins, userlist, highlight, theme, logs)",
        "  /Save - keep the settings in the config file (~/.config/chatterbox/client.toml)",
        "Keys:",
        "  Alt-1…9, Alt-0 window 1…10 · Alt-←/→ or Ctrl-P/N previous/next window",
        "  PgUp/PgDn scroll (PgUp at the top loads older messages) · Ctrl-R searches this window",
        "  Tab completes names and commands",
        "  Up/Down recall earlier lines · Ctrl-A/E start/end · Alt-B/F words",
        "  Ctrl-K/U/W delete to end/start/word · F2 or Alt-U user list",
        "  Ctrl-L redraw · Ctrl-C quit",
    ]

    /// A screen for a client in `status`; `clock` sets the time zone of timestamps.
    public init(status: ClientStatus, showUserList: Bool = true, bellEnabled: Bool = true, paletteSize: Int = 12, clock: ClockFormat = ClockFormat()) {
        self.status = status
        self.showUserList = showUserList
        self.bellEnabled = bellEnabled
        self.paletteSize = paletteSize
        self.clock = clock
        windows = [ChatWindow(kind: .room, clock: clock)]
    }
}

extension ChatScreen {
    /// The settings as they are now, for /Save.
    public var clientSettings: ClientSettings {
        get {
            var settings = ClientSettings()
            settings.seconds = clock.showsSeconds
            settings.bell = bellEnabled
            settings.hideJoins = hideJoins
            settings.userList = showUserList
            settings.highlightWords = highlightWords
            settings.theme = theme
            settings.logs = logsEnabled
            settings.downloadDirectory = downloadDirectory
            settings.nextWindowKey = Self.keyName(nextWindowKey) ?? "ctrl-n"
            settings.previousWindowKey = Self.keyName(previousWindowKey) ?? "ctrl-p"
            return settings
        }
        set {
            clock.showsSeconds = newValue.seconds
            bellEnabled = newValue.bell
            hideJoins = newValue.hideJoins
            showUserList = newValue.userList
            highlightWords = newValue.highlightWords
            theme = newValue.theme
            logsEnabled = newValue.logs
            downloadDirectory = newValue.downloadDirectory
            nextWindowKey = KeyBinding.parse(newValue.nextWindowKey) ?? .ctrl("n")
            previousWindowKey = KeyBinding.parse(newValue.previousWindowKey) ?? .ctrl("p")
            for index in windows.indices { windows[index].layoutCache = LayoutCache() }
        }
    }

    /// The config file's name for `key`.
    static func keyName(_ key: Key) -> String? {
        switch key {
        case .ctrl(let letter): "ctrl-\(letter)"
        case .alt(let character): "alt-\(character)"
        case .function(let number): "f\(number)"
        case .altRight: "alt-right"
        case .altLeft: "alt-left"
        default: nil
        }
    }
}

extension ChatScreen {
    /// The lines for the logs since the last call (none while logging is off).
    public mutating func takeLogLines() -> [LogLine] {
        defer { pendingLogLines = [] }
        return pendingLogLines
    }
}
