/// How well the connection is protected, for the user to see.
public enum SecurityLevel: Sendable, Equatable {
    /// TLS with the server's certificate verified.
    case verifiedTLS
    /// TLS without verification (`--insecure`).
    case unverifiedTLS
    /// Plain TCP (`--plaintext`).
    case plaintext

    /// The level `security` gives.
    public init(_ security: ConnectionSecurity) {
        switch security {
        case .plaintext: self = .plaintext
        case .tls(.insecure): self = .unverifiedTLS
        case .tls: self = .verifiedTLS
        }
    }

    /// A short description: "TLS, certificate verified".
    public var description: String {
        switch self {
        case .verifiedTLS: "TLS, certificate verified"
        case .unverifiedTLS: "TLS, certificate NOT verified"
        case .plaintext: "plain TCP, NOT encrypted"
        }
    }
}

/// Everything a status bar, a user list or completion needs to know about the client.
public struct ClientStatus: Sendable, Equatable {
    /// Where the connection stands.
    public enum Phase: Sendable, Equatable {
        /// Opening the connection (the first or a later one).
        case connecting
        /// Connected; logging in, or waiting for the user to choose a name.
        case loggingIn
        /// Logged in.
        case online
        /// The connection was lost; the next attempt starts at `retryAt`.
        case waitingToReconnect(retryAt: ContinuousClock.Instant)
        /// The client has stopped.
        case closed
    }

    public var phase: Phase = .connecting
    /// The server connected to, or last connected to (the first configured before that).
    public var host: String
    public var port: Int
    public var security: SecurityLevel
    /// The name logged in under, or the last one while reconnecting.
    public var username: String?
    /// The server's pseudo-user that answers commands, if it has one.
    public var serverUser: String?
    /// Users online, as the server listed and announced them.
    public var online: [String] = []
    /// Everyone seen since the client started (for completion).
    public var everyoneSeen: Set<String> = []
    /// Whether the server runs the slash commands itself.
    public var serverRunsCommands = false
    /// Lines typed while offline, waiting to be sent.
    public var queuedLines = 0
    /// Consecutive failed connection attempts since the connection was lost.
    public var failedAttempts = 0

    public init(host: String, port: Int, security: SecurityLevel) {
        self.host = host
        self.port = port
        self.security = security
    }

    /// The server connected to, or last connected to.
    public var server: ServerEndpoint { ServerEndpoint(host: host, port: port) }

    /// Whether messages can be sent right now.
    public var isOnline: Bool { phase == .online }
}
