public import ChatProtocol
public import NIOCore
public import NIOSSL

/// Everything the server's behaviour can be tuned by. Defaults are production values.
public struct ServerConfiguration: Sendable {
    /// Host to bind: "" for every local address (IPv4 and IPv6), otherwise what getaddrinfo
    /// returns for it.
    public var host: String
    /// TCP port; 0 picks a free one (tests).
    public var port: Int
    /// TLS settings; `nil` serves plain TCP (`--plaintext`).
    public var tls: NIOSSLContext?
    /// Largest frame accepted from a client, in bytes of JSON.
    public var maximumFrameLength: Int
    /// Most recent messages replayed at login.
    public var historyLimit: Int
    /// Longest CONTENT accepted, in UTF-8 bytes.
    public var maximumContentBytes: Int
    /// Bytes that may wait to be sent to one client before it is disconnected as too slow.
    public var outboundQueueLimit: Int
    /// Messages and other changes that may wait for the store before new messages are refused.
    public var storeQueueLimit: Int
    /// Frames a client may send while its login is still completing.
    public var maximumFramesDuringLogin: Int
    /// The name the server answers commands under. Reserved as a username.
    public var serverName: String
    /// Event loop threads; defaults to one per core.
    public var eventLoopThreads: Int

    public init(
        host: String = "",
        port: Int = 9000,
        tls: NIOSSLContext? = nil,
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength,
        historyLimit: Int = 1000,
        maximumContentBytes: Int = 64 * 1024,
        outboundQueueLimit: Int = 8 * 1024 * 1024,
        storeQueueLimit: Int = 100_000,
        maximumFramesDuringLogin: Int = 256,
        serverName: String = "Chatterbox",
        eventLoopThreads: Int = System.coreCount
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.maximumFrameLength = maximumFrameLength
        self.historyLimit = historyLimit
        self.maximumContentBytes = maximumContentBytes
        self.outboundQueueLimit = outboundQueueLimit
        self.storeQueueLimit = storeQueueLimit
        self.maximumFramesDuringLogin = maximumFramesDuringLogin
        self.serverName = serverName
        self.eventLoopThreads = eventLoopThreads
    }

    var usernameRules: UsernameRules { UsernameRules(serverName: serverName) }
}
