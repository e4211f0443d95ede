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
    }

    /// The input line.
    public var editor = LineEditor()
    /// The conversation and how far it is scrolled.
    public internal(set) var scrollback: Scrollback
    /// The engine's latest status (status bar, user list, completion).
    public internal(set) var status: ClientStatus
    /// The user asked for the user list (F2, Alt-U); it shows when the screen is wide enough.
    public var showUserList: Bool
    /// Ring the bell for direct messages and mentions.
    public var bellEnabled: Bool
    /// Direct messages received since the user last sent something.
    public internal(set) var unreadDirectMessages = 0
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
    let clock: ClockFormat
    /// Colours in the theme's name palette.
    public var paletteSize: Int
    var layoutCache = LayoutCache()
    /// The message pane's geometry at the last composition, for scrolling by pages.
    var lastPane = (height: 20, width: 80)

    /// Commands the client runs itself, on top of the chat commands.
    public static let localCommands = ["Bell", "Clear"]
    /// Commands the engine runs itself (for completion).
    static let engineCommands = ["Reconnect"]
    /// Help for ``localCommands`` and the keys, appended to /Help.
    public static let helpLines = [
        "  /Bell [on|off] - ring the bell for direct messages and mentions",
        "  /Clear - clear the messages on this screen",
        "Keys:",
        "  PgUp/PgDn scroll · Tab completes names and commands",
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
        scrollback = Scrollback(clock: clock)
    }
}
