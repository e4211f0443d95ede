#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix

/// The administration socket (`chatterbox admin`): a Unix domain socket in the data directory,
/// mode 0600, that serves only the server's own user (and root), checked on every connection
/// from the peer's credentials as the kernel gives them — whatever the file's mode.
///
/// One command per connection: the client sends a line (`kick bob spamming`), the server
/// answers `ok` or `error` on a line of its own, then the answer's lines, and closes.
final class AdminSocket: Sendable {
    /// The longest command line read (a bound on what a peer can make the server hold).
    static let maximumLineBytes = 16 * 1024
    /// A connection that sends no complete line within this is closed.
    static let idleTimeout: TimeAmount = .seconds(10)
    /// The longest path a Unix domain socket can have (sun_path, with its NUL).
    static let maximumPathBytes = 107

    let path: String
    private let channel: any Channel

    private init(path: String, channel: any Channel) {
        self.path = path
        self.channel = channel
    }

    /// Listens on `path` (replacing a socket file left by an earlier run), mode 0600.
    static func start(
        path: String, on eventLoop: any EventLoop, logger: Logger,
        handle: @escaping @Sendable (_ line: String, _ caller: String) -> AdminReply
    ) async throws -> AdminSocket {
        guard path.utf8.count <= maximumPathBytes else {
            throw AdminSocketError("the path is longer than \(maximumPathBytes) bytes, the most a Unix socket can have")
        }
        let owner = getuid()
        let channel = try await ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AdminConnectionHandler(owner: owner, logger: logger, handle: handle))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        // Between the bind and this, the peer check below still keeps others out.
        guard chmod(path, 0o600) == 0 else {
            try? await channel.close()
            throw AdminSocketError("cannot set its mode to 0600 (errno \(errno))")
        }
        logger.info("Admin socket: \(path) (chatterbox admin)")
        return AdminSocket(path: path, channel: channel)
    }

    /// Stops listening and removes the socket file.
    func close() async {
        try? await channel.close()
        unlink(path)
    }
}

struct AdminSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One connection to the admin socket: checks who is calling, reads one line, answers, closes.
private final class AdminConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let owner: uid_t
    private let logger: Logger
    private let handle: @Sendable (String, String) -> AdminReply
    private var received = ByteBuffer()
    /// Who is calling ("uid 1000, pid 4242"), once allowed.
    private var caller: String?
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(owner: uid_t, logger: Logger, handle: @escaping @Sendable (String, String) -> AdminReply) {
        self.owner = owner
        self.logger = logger
        self.handle = handle
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: AdminSocket.idleTimeout) { channel.close(promise: nil) }
        context.fireChannelActive()
        guard let provider = channel as? any SocketOptionProvider else {
            answer(AdminReply(ok: false, lines: ["The server cannot tell who you are."]), context: context)
            return
        }
        // On the channel's loop this completes at once.
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(Self.peerCredentialsOption))
        credentials.assumeIsolated().whenComplete { result in
            guard case .success(let peer) = result else {
                self.answer(AdminReply(ok: false, lines: ["The server cannot tell who you are."]), context: context)
                return
            }
            guard peer.uid == self.owner || peer.uid == 0 else {
                self.logger.warning("Admin socket: refused uid \(peer.uid) (pid \(peer.pid)): only the server's own user may use it")
                self.answer(AdminReply(ok: false, lines: ["Only the user the server runs as may use this socket."]), context: context)
                return
            }
            self.caller = "uid \(peer.uid), pid \(peer.pid)"
            self.answerIfComplete(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        answerIfComplete(context: context)
    }

    /// Runs the command once its line is in and the caller is known.
    private func answerIfComplete(context: ChannelHandlerContext) {
        guard !answered else { return }
        guard let newline = received.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if received.readableBytes > AdminSocket.maximumLineBytes {
                answer(AdminReply(ok: false, lines: ["The command is longer than \(AdminSocket.maximumLineBytes) bytes."]), context: context)
            }
            return
        }
        guard let caller else { return }
        let length = newline - received.readerIndex
        guard length <= AdminSocket.maximumLineBytes,
              let line = received.readString(length: length),
              line.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\t" })
        else {
            answer(AdminReply(ok: false, lines: ["The command must be one line of text."]), context: context)
            return
        }
        answer(handle(line, caller), context: context)
    }

    private func answer(_ reply: AdminReply, context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let text = ([reply.ok ? "ok" : "error"] + reply.lines).map { $0 + "\n" }.joined()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// SO_PEERCRED: the credentials of the process at the other end, as the kernel saw it connect.
    #if os(Linux)
    static let peerCredentialsOption = SO_PEERCRED
    #else
    static let peerCredentialsOption: Int32 = -1
    #endif
}

/// Linux's `struct ucred` (which Glibc declares only for _GNU_SOURCE): pid, uid, gid.
private struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
