import ChatCompression
import ChatNetworking
import Foundation
public import ChatProtocol
public import ChatTLS
public import NIOCore
public import NIOPosix
import NIOSSL
import NIOTLS

/// How a client connection is protected.
public enum ConnectionSecurity: Sendable {
    /// TLS, trusting the server as described.
    case tls(TLSContexts.ServerTrust)
    /// Plain TCP, for servers that never added TLS (`--plaintext`).
    case plaintext
}

/// The connection could not be established.
public struct ConnectionError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// Whether trying again cannot help (the certificate is not trusted, the server speaks
    /// TLS and the client does not or the other way round): the client stops rather than
    /// retry.
    public var isFatal: Bool
    /// Whether the TCP connection was made and the TLS handshake failed.
    public var duringTLS = false

    public init(description: String, isFatal: Bool = false) {
        self.description = description
        self.isFatal = isFatal
    }
}

/// A framed connection to a chat server: a 4-byte length + JSON frame stream over TLS or TCP.
///
/// ``connect(host:port:security:maximumFrameLength:connectTimeout:localAddress:group:)``
/// connects to each address getaddrinfo returns for the host, in order, until one answers
/// (the client's engine goes through several servers with a ``FailoverConnector``, which
/// connects to one address at a time). With TLS both return only after the handshake (and the certificate check,
/// against `host`) succeeded. `localAddress`, when given, is the address the connection is made
/// from. The name lookup, the TCP connection and the TLS handshake may each take up to
/// `connectTimeout`.
public struct ChatConnection: Sendable {
    /// Largest frame accepted from a server by default. Servers may send long histories.
    public static let defaultMaximumFrameLength = 16 << 20

    /// The address connected to.
    public let remoteAddress: SocketAddress?
    /// Whether the connection is encrypted.
    public let isEncrypted: Bool
    /// Largest frame accepted from the server, also after inflating a compressed one.
    public let maximumFrameLength: Int
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public static func connect(
        host: String,
        port: Int,
        security: ConnectionSecurity,
        maximumFrameLength: Int = defaultMaximumFrameLength,
        connectTimeout: TimeAmount = .seconds(10),
        localAddress: SocketAddress? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ChatConnection {
        let sslContext = try makeSSLContext(security: security, host: host)
        let addresses = try await AddressResolver.connectAddresses(host: host, port: port, timeout: .nanoseconds(connectTimeout.nanoseconds))
        var failures: [String] = []
        for address in addresses {
            do {
                return try await connect(
                    to: address, host: host, port: port, security: security, sslContext: sslContext,
                    maximumFrameLength: maximumFrameLength, connectTimeout: connectTimeout, localAddress: localAddress, group: group
                )
            } catch let error as ConnectionError where error.isFatal || error.duringTLS {
                throw ConnectionError(description: "Cannot connect securely to \(host) port \(port) (\(describe(address))): \(error.description).", isFatal: error.isFatal)
            } catch {
                failures.append("\(describe(address)): \(error)")
            }
        }
        // With one address its name adds nothing to "Cannot connect to HOST port PORT".
        let reasons = addresses.count == 1 ? failures.map { String($0.drop { $0 != " " }.dropFirst()) } : failures
        throw ConnectionError(description: "Cannot connect to \(host) port \(port): " + reasons.joined(separator: "; "))
    }

    /// The TLS context for `security` (`nil` for plain TCP); its failure is fatal. Build one
    /// for many connections rather than one each.
    static func makeSSLContext(security: ConnectionSecurity, host: String) throws -> NIOSSLContext? {
        guard case .tls(let trust) = security else { return nil }
        do {
            return try TLSContexts.client(trust: trust)
        } catch {
            let (text, _) = ConnectionFailureText.explain(error, host: host, security: security)
            throw ConnectionError(description: "Cannot check the server's certificate: \(text).", isFatal: true)
        }
    }

    /// Connects to `address`, one of those of `host`, and (with `sslContext`) completes the TLS
    /// handshake, checking the certificate against `host`. Throws a ``ConnectionError`` whose
    /// description is the reason alone ("Connection refused").
    static func connect(
        to address: SocketAddress,
        host: String,
        port: Int,
        security: ConnectionSecurity,
        sslContext: NIOSSLContext?,
        maximumFrameLength: Int = defaultMaximumFrameLength,
        connectTimeout: TimeAmount = .seconds(10),
        localAddress: SocketAddress? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ChatConnection {
        let serverHostname = TLSContexts.serverHostname(for: host)
        let received = ReceivedBytes()
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let handshake: EventLoopFuture<Void>
        do {
            var bootstrap = ClientBootstrap(group: group).connectTimeout(connectTimeout)
            if let localAddress { bootstrap = bootstrap.bind(to: localAddress) }
            (channel, handshake) = try await bootstrap
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        let handshake = channel.eventLoop.makePromise(of: Void.self)
                        // A connection that fails before it is up never reaches the handler
                        // below; the promise must still complete (a no-op if it already has).
                        channel.closeFuture.whenComplete { _ in
                            handshake.fail(ConnectionError(description: "the connection closed before it was established"))
                        }
                        if let sslContext {
                            try pipeline.addHandler(FirstBytesRecorder(into: received))
                            try pipeline.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                            try pipeline.addHandler(HandshakeWaiter(promise: handshake))
                            // A server that accepts the connection but never answers TLS (a
                            // hung node, another service on the port) is given up in time.
                            let timeout = channel.eventLoop.scheduleTask(in: connectTimeout) {
                                handshake.fail(HandshakeTimeout(timeout: connectTimeout))
                                channel.close(promise: nil)
                            }
                            handshake.futureResult.whenComplete { _ in timeout.cancel() }
                        } else {
                            try pipeline.addHandler(PlaintextGuard())
                            handshake.succeed()
                        }
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: maximumFrameLength)))
                        let wrapped = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                        return (wrapped, handshake.futureResult)
                    }
                }
        } catch {
            let (text, isFatal) = ConnectionFailureText.explain(error, host: host, security: security)
            throw ConnectionError(description: text, isFatal: isFatal)
        }
        do {
            try await handshake.get()
        } catch {
            // Closes the channel and finishes its writer, which must not be dropped unfinished.
            try? await channel.executeThenClose { _, _ in }
            let (text, isFatal) = ConnectionFailureText.explain(error, host: host, security: security, received: received.bytes.withLock { $0 })
            var failure = ConnectionError(description: text, isFatal: isFatal)
            failure.duringTLS = true
            throw failure
        }
        return ChatConnection(remoteAddress: address, isEncrypted: sslContext != nil, maximumFrameLength: maximumFrameLength, channel: channel)
    }

    /// Runs `body` with the connection's frame reader and writer, then closes the connection.
    /// Call it exactly once for every connection made.
    public func run<Result: Sendable>(
        _ body: (_ frames: FrameReader, _ writer: FrameWriter) async throws -> Result
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            try await body(FrameReader(inbound: inbound, maximumFrameLength: maximumFrameLength), FrameWriter(outbound: outbound))
        }
    }

    /// "127.0.0.1:9000", "[::1]:9000".
    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    static func describe(_ error: any Error) -> String {
        ConnectionFailureText.explain(error, host: "the server", security: .plaintext).text
    }
}

/// Frames from the server, decoded leniently. A frame that is not a JSON object becomes a
/// frame with no keys and one problem describing it, so reading goes on. Compressed frames
/// (feature `deflate`; only a server that enabled it sends them) are inflated first.
public struct FrameReader: AsyncSequence, Sendable {
    public typealias Element = DecodedFrame
    let inbound: NIOAsyncChannelInboundStream<ByteBuffer>
    let maximumFrameLength: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let maximumFrameLength: Int

        public mutating func next() async throws -> DecodedFrame? {
            guard var payload = try await base.next() else { return nil }
            var compressedLength: Int?
            if FrameCompression.isCompressed(payload) {
                compressedLength = payload.readableBytes
                do {
                    payload = try FrameCompression.inflate(payload, maximumLength: maximumFrameLength)
                } catch {
                    return DecodedFrame(frame: Frame(), problems: ["\(error)"], compressedLength: compressedLength)
                }
            }
            do {
                var decoded = try FrameCoding.decode(payload, strictness: .lenient)
                decoded.compressedLength = compressedLength
                return decoded
            } catch {
                return DecodedFrame(frame: Frame(), problems: ["\(error)"])
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: inbound.makeAsyncIterator(), maximumFrameLength: maximumFrameLength)
    }
}

/// Sends frames to the server.
public struct FrameWriter: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// Sends one frame; compressed where it pays when `compress` is set (only to a server
    /// that enabled feature `deflate`).
    public func send(_ frame: Frame, compress: Bool = false) async throws {
        let encoded = FrameCoding.encode(frame)
        try await outbound.write(compress ? FrameCompression.compressFrames(encoded) : encoded)
    }

    /// Sends bytes exactly as given (tests of malformed input).
    public func sendRaw(_ bytes: ByteBuffer) async throws {
        try await outbound.write(bytes)
    }

    /// Closes the sending side.
    public func finish() {
        outbound.finish()
    }
}

/// The server accepted the connection but did not complete the TLS handshake in time.
struct HandshakeTimeout: Error, CustomStringConvertible {
    var timeout: TimeAmount

    var description: String {
        "the server accepted the connection but did not answer the TLS handshake within \(ConnectionEventText.seconds(.nanoseconds(timeout.nanoseconds)))"
    }
}

/// Completes a promise when the TLS handshake is done, or fails it with the handshake error.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let promise: EventLoopPromise<Void>
    private var done = false

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, !done {
            done = true
            promise.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(ConnectionError(description: "the server closed the connection during the TLS handshake"))
        }
        context.fireChannelInactive()
    }
}
