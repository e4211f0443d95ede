import ChatServer
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// One connection to the HTTP listener with the browser gateway: HTTP/1.1 for the routes
/// (the page, the operators' endpoints), or — for a WebSocket handshake on the gateway's path
/// from an allowed origin — a chat session.
///
/// hummingbird-websocket's own upgrade channel hands an upgraded connection to async code
/// (`NIOAsyncChannel`); a chat session is a channel handler on one of the chat server's loops,
/// fed by its outbox. So this channel does the upgrade with swift-nio's WebSocket upgrader,
/// as that one does, and gives the upgraded channel to ``ChatServer/adoptConnection(_:framing:)``
/// with a ``WebSocketFraming`` below the session. A request that is not an upgrade goes to the
/// router like any other (where `/ws` says what was wrong).
struct GatewayChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        /// A chat session runs on the channel; it is done when the channel closes.
        case webSocket(any Channel)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        /// A handshake that was refused (path or origin): its request was consumed by the
        /// upgrade handler, so the answer is written here.
        case refusedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let configuration: HTTP1Channel.Configuration
    let gateway: BrowserGateway

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let gateway = self.gateway
            let configuration = self.configuration
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                // The decoder refuses a frame over the chat's limit before buffering it.
                maxFrameSize: gateway.maximumMessageLength,
                // Protocol errors reach the framing handler, which lets the session say why.
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    logger.trace("WebSocket handshake for \(head.uri), Origin \(head.headers["Origin"].first ?? "none"), Host \(head.headers["Host"].first ?? "none")")
                    return channel.eventLoop.makeSucceededFuture(gateway.upgradeHeaders(for: head))
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try gateway.server.adoptConnection(
                            channel, framing: [WebSocketFraming(maximumMessageLength: gateway.maximumMessageLength)])
                        return .webSocket(channel)
                    }
                }
            )
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // What HTTP1Channel sets up, for the router.
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try pipeline.addHandlers(configuration.additionalChannelHandlers())
                        try pipeline.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: configuration.idleTimeout.map { Duration($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return upgradeAttempted.value ? .refusedUpgrade(http) : .http(http)
                    }
                }
            )
            var pipelineConfiguration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrades)
            pipelineConfiguration.enablePipelining = false
            pipelineConfiguration.enableErrorHandling = false
            pipelineConfiguration.enableResponseHeaderValidation = false
            pipelineConfiguration.decoderConfiguration.maxHeaderFieldSize = configuration.httpDecoder.maxHeaderFieldSize
            pipelineConfiguration.decoderConfiguration.maxHeaderListSize = configuration.httpDecoder.maxHeaderListSize
            pipelineConfiguration.decoderConfiguration.maxHeaderFieldCount = configuration.httpDecoder.maxHeaderFieldCount
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipelineConfiguration)
            // Until the first request decides between HTTP and a WebSocket, the idle timeout of
            // HTTP/1 is not in the pipeline yet: a peer that sends nothing is closed all the same.
            if let idleTimeout = configuration.idleTimeout {
                let deadline = channel.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
                negotiated.whenComplete { _ in deadline.cancel() }
            }
            return Value(negotiated: negotiated, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refusedUpgrade(let http):
                try await http.executeThenClose { _, outbound in
                    let body = ByteBuffer(string: "WebSocket refused: pages from this origin may not open this chat (the server's operator can allow them with --http-allow-origin), or the path is not \(BrowserGateway.webSocketPath).\n")
                    let head = HTTPResponse(status: .forbidden, headerFields: [
                        .connection: "close", .contentType: "text/plain; charset=utf-8", .contentLength: String(body.readableBytes),
                    ])
                    try await outbound.write(contentsOf: [.head(head), .body(body), .end(nil)])
                }
            case .webSocket(let channel):
                // The session runs on the channel's loop; this task only waits for the end.
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
            }
        } catch {
            logger.debug("Connection ended before its first request: \(error)")
            value.channel.close(promise: nil)
        }
    }
}
