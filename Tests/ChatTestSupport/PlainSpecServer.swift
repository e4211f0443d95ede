import ChatProtocol
public import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A minimal server written to the seed protocol and nothing more: no commands, no
/// extensions, plain TCP. Used to prove the Chatterbox client works with other servers.
public final class PlainSpecServer: Sendable {
    /// How the server treats keys it does not know in a login frame.
    public enum Strictness: Sendable {
        /// Ignores them (most implementations).
        case lenient
        /// Answers `ERROR` and ignores the whole frame.
        case rejectsUnknownKeys
    }

    private struct State {
        var users: [String: any Channel] = [:]
        var history: [ChatMessage] = []
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state = NIOLockedValueBox(State())
    private let strictness: Strictness
    private let listener: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)
    private let boundPort = NIOLockedValueBox(0)
    /// Every login frame received, for assertions.
    public let loginFrames = NIOLockedValueBox<[Frame]>([])

    public init(strictness: Strictness = .lenient) {
        self.strictness = strictness
    }

    /// Runs `body` with a started server, stopping it afterwards even when `body` throws.
    public static func with<Result>(
        strictness: Strictness = .lenient,
        _ body: (PlainSpecServer) async throws -> Result
    ) async throws -> Result {
        let server = PlainSpecServer(strictness: strictness)
        _ = try await server.start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Starts listening on 127.0.0.1 and returns the port.
    public func start() async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(PlainSessionHandler(server: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        listener.withLockedValue { $0 = channel }
        let port = channel.localAddress!.port!
        boundPort.withLockedValue { $0 = port }
        return port
    }

    /// The port ``start()`` bound.
    public var port: Int {
        boundPort.withLockedValue { $0 }
    }

    /// Closes the listener and every connection.
    public func stop() async {
        let channel = listener.withLockedValue { $0 }
        try? await channel?.close()
        let connections = state.withLockedValue { Array($0.users.values) }
        for connection in connections { try? await connection.close() }
        try? await group.shutdownGracefully()
    }

    fileprivate func handle(_ frame: Frame, extraKeys: Bool, from channel: any Channel, name: inout String?) {
        if name == nil, let username = frame.username {
            loginFrames.withLockedValue { $0.append(frame) }
            if extraKeys, strictness == .rejectsUnknownKeys {
                send(Frame(error: "Unknown key in login"), to: channel)
                return
            }
            let (accepted, others, history, users) = state.withLockedValue { state -> (Bool, [any Channel], [ChatMessage], [String]) in
                guard state.users[username] == nil else { return (false, [], [], []) }
                let others = Array(state.users.values)
                state.users[username] = channel
                return (true, others, state.history, state.users.keys.sorted())
            }
            guard accepted else {
                send(Frame(usernameAccepted: false, info: "The provided username is already in use."), to: channel)
                return
            }
            name = username
            send(Frame(usernameAccepted: true, info: "Welcome!", userList: users, messages: history), to: channel)
            for other in others { send(Frame(usersJoined: [username]), to: other) }
            return
        }
        guard let name, let messages = frame.messages else {
            send(Frame(error: "Invalid message"), to: channel)
            return
        }
        for message in messages {
            guard message.source == name else {
                send(Frame(error: "SRC does not match"), to: channel)
                continue
            }
            let recipients = state.withLockedValue { state -> [any Channel] in
                state.history.append(message)
                if message.isBroadcast { return Array(state.users.values) }
                return [state.users[message.destination], channel].compactMap { $0 }
            }
            for recipient in recipients { send(Frame(messages: [message]), to: recipient) }
        }
    }

    fileprivate func left(_ name: String) {
        let others = state.withLockedValue { state -> [any Channel] in
            state.users[name] = nil
            return Array(state.users.values)
        }
        for other in others { send(Frame(usersLeft: [name]), to: other) }
    }

    private func send(_ frame: Frame, to channel: any Channel) {
        channel.writeAndFlush(FrameCoding.encode(frame), promise: nil)
    }
}

private final class PlainSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let server: PlainSpecServer
    private var name: String?

    init(server: PlainSpecServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard let decoded = try? FrameCoding.decode(payload) else {
            context.writeAndFlush(NIOAny(FrameCoding.encode(Frame(error: "Invalid JSON"))), promise: nil)
            return
        }
        server.handle(decoded.frame, extraKeys: !decoded.frame.extensions.isEmpty, from: context.channel, name: &name)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let name { server.left(name) }
        context.fireChannelInactive()
    }
}
