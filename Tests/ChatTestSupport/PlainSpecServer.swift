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

    /// Behaviours of other servers of the protocol that a client must cope with.
    public struct Quirks: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// Accepts a login that carries FEATURES, then closes the connection, as the
        /// protocol's original Python server does when it chokes on the list value.
        public static let closesAfterAcceptingFeatures = Quirks(rawValue: 1 << 0)
        /// Closes the connection on a login that carries FEATURES without answering it.
        public static let closesOnFeatures = Quirks(rawValue: 1 << 1)
        /// Sends `"USERNAME_ACCEPTED": "true"` / `"false"`, strings.
        public static let stringBooleans = Quirks(rawValue: 1 << 2)
        /// Delivers a direct message to its recipient only, not back to its sender.
        public static let noDirectEcho = Quirks(rawValue: 1 << 3)
        /// Replays every message in the login history, direct messages between others too.
        public static let replaysEveryDirectMessage = Quirks(rawValue: 1 << 4)
        /// Refuses every login ("The server is shutting down.") and closes the connection, as
        /// a node that is being stopped does.
        public static let refusesLoginsAndCloses = Quirks(rawValue: 1 << 5)
    }

    /// A busy server: how long its answers to logins and to messages take, and how many
    /// messages it takes from one connection before it drops the rest with "Slow down".
    public struct Pace: Sendable {
        public var loginDelay: TimeAmount
        public var messageDelay: TimeAmount
        public var messageBurst: Int?

        public init(loginDelay: TimeAmount = .zero, messageDelay: TimeAmount = .zero, messageBurst: Int? = nil) {
            self.loginDelay = loginDelay
            self.messageDelay = messageDelay
            self.messageBurst = messageBurst
        }
    }

    private struct State {
        var users: [String: any Channel] = [:]
        var history: [ChatMessage] = []
        /// Messages taken from each user, for ``Pace/messageBurst``.
        var taken: [String: Int] = [:]
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let state = NIOLockedValueBox(State())
    private let strictness: Strictness
    private let quirks: Quirks
    private let pace: Pace
    private let listener: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)
    private let boundPort = NIOLockedValueBox(0)
    private let stopped = NIOLockedValueBox(false)
    /// Every login frame received, for assertions.
    public let loginFrames = NIOLockedValueBox<[Frame]>([])

    public init(strictness: Strictness = .lenient, quirks: Quirks = [], pace: Pace = Pace()) {
        self.strictness = strictness
        self.quirks = quirks
        self.pace = pace
    }

    /// Runs `body` with a started server, stopping it afterwards even when `body` throws.
    public static func with<Result>(
        strictness: Strictness = .lenient,
        quirks: Quirks = [],
        pace: Pace = Pace(),
        _ body: (PlainSpecServer) async throws -> Result
    ) async throws -> Result {
        let server = PlainSpecServer(strictness: strictness, quirks: quirks, pace: pace)
        _ = try await server.start()
        return try await withTeardown { try await body(server) } teardown: { await server.stop() }
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

    /// Adds `messages` to the history replayed at login, as if they had been sent here (the
    /// history another node of the same chat would replay).
    public func addHistory(_ messages: [ChatMessage]) {
        state.withLockedValue { $0.history += messages }
    }

    /// Closes the listener and every connection. Only the first call does anything (a test may
    /// stop a server before ``with(strictness:quirks:_:)`` does).
    public func stop() async {
        guard stopped.withLockedValue({ stopped in defer { stopped = true }; return !stopped }) else { return }
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
            if frame.features != nil, quirks.contains(.closesOnFeatures) {
                closeSoon(channel)
                return
            }
            if quirks.contains(.refusesLoginsAndCloses) {
                send(acceptance(false, Frame(info: "The server is shutting down.")), to: channel)
                closeSoon(channel)
                return
            }
            let (accepted, others, history, users) = state.withLockedValue { state -> (Bool, [any Channel], [ChatMessage], [String]) in
                guard state.users[username] == nil else { return (false, [], [], []) }
                let others = Array(state.users.values)
                state.users[username] = channel
                return (true, others, state.history, state.users.keys.sorted())
            }
            guard accepted else {
                send(acceptance(false, Frame(info: "The provided username is already in use.")), to: channel)
                return
            }
            name = username
            let visible = quirks.contains(.replaysEveryDirectMessage)
                ? history
                : history.filter { $0.isBroadcast || $0.source == username || $0.destination == username }
            send(acceptance(true, Frame(info: "Welcome!", userList: users, messages: visible)), to: channel, after: pace.loginDelay)
            for other in others { send(Frame(usersJoined: [username]), to: other) }
            if frame.features != nil, quirks.contains(.closesAfterAcceptingFeatures) {
                // The original server's handler dies here; its connection goes with it.
                closeSoon(channel)
            }
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
            let recipients = state.withLockedValue { state -> [any Channel]? in
                if let burst = pace.messageBurst {
                    guard state.taken[name, default: 0] < burst else { return nil }
                    state.taken[name, default: 0] += 1
                }
                state.history.append(message)
                if message.isBroadcast { return Array(state.users.values) }
                if quirks.contains(.noDirectEcho) { return [state.users[message.destination]].compactMap { $0 } }
                return [state.users[message.destination], channel].compactMap { $0 }
            }
            guard let recipients else {
                send(Frame(error: "Slow down: 1 message was not sent."), to: channel, after: pace.messageDelay)
                continue
            }
            for recipient in recipients { send(Frame(messages: [message]), to: recipient, after: pace.messageDelay) }
        }
    }

    fileprivate func left(_ name: String) {
        let others = state.withLockedValue { state -> [any Channel] in
            state.users[name] = nil
            return Array(state.users.values)
        }
        for other in others { send(Frame(usersLeft: [name]), to: other) }
    }

    /// A login answer: `frame` with USERNAME_ACCEPTED, a string with ``Quirks/stringBooleans``.
    private func acceptance(_ accepted: Bool, _ frame: Frame) -> Frame {
        var frame = frame
        if quirks.contains(.stringBooleans) {
            frame.extensions.insert(.init(key: Frame.Key.usernameAccepted, value: .string(accepted ? "true" : "false")), at: 0)
        } else {
            frame.usernameAccepted = accepted
        }
        return frame
    }

    /// Closes `channel` once the frame being handled is done with (closing at once would
    /// re-enter the handler from inside its own read).
    private func closeSoon(_ channel: any Channel) {
        channel.eventLoop.execute { channel.close(promise: nil) }
    }

    private func send(_ frame: Frame, to channel: any Channel, after delay: TimeAmount = .zero) {
        guard delay > .zero else {
            channel.writeAndFlush(FrameCoding.encode(frame), promise: nil)
            return
        }
        // One event loop: frames delayed alike keep their order.
        channel.eventLoop.scheduleTask(in: delay) {
            channel.writeAndFlush(FrameCoding.encode(frame), promise: nil)
        }
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
