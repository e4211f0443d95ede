public import ChatOperations
public import ChatServer
public import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1

/// Chat from a browser (issue 19): the web client's files at `/` and a WebSocket at `/ws`
/// that carries the chat protocol's JSON objects, one per text message, into a session on
/// ``server`` — the same hub, history, blocks, direct messages and files as the chat port's
/// clients, under the same limits, counted against the TCP peer's address.
///
/// Served by the operators' HTTP listener: register the routes on its router
/// (``register(on:)``), give it ``makeChannel`` and the server's event loops
/// (``ChatServer/borrowEventLoops()``), on which the sessions must run.
public struct BrowserGateway: Sendable {
    /// The WebSocket's path.
    public static let webSocketPath = "/ws"

    public let server: ChatServer
    public let originPolicy: OriginPolicy

    public init(server: ChatServer, originPolicy: OriginPolicy = OriginPolicy()) {
        self.server = server
        self.originPolicy = originPolicy
    }

    /// A WebSocket message is one chat frame: the chat port's frame limit applies.
    var maximumMessageLength: Int { server.configuration.maximumFrameLength }

    /// The HTTP listener's connections: HTTP/1.1, or a chat session after a WebSocket upgrade.
    public var makeChannel: OperatorsHTTPServer.ChannelMaker {
        { [self] responder, configuration in
            GatewayChildChannel(responder: responder, configuration: configuration, gateway: self)
        }
    }

    /// The extra headers of an accepted handshake; `nil` refuses it (it then reaches the router
    /// as an ordinary request, whose `/ws` route says why).
    func upgradeHeaders(for head: HTTPRequestHead) -> HTTPHeaders? {
        let (origins, host) = (head.headers["Origin"], head.headers["Host"].first)
        // A browser sends one Origin; should there be several, each must be allowed.
        let allowed = origins.isEmpty ? originPolicy.allows(origin: nil, host: host) : origins.allSatisfy { originPolicy.allows(origin: $0, host: host) }
        guard Self.path(of: head.uri) == Self.webSocketPath, allowed else { return nil }
        return HTTPHeaders()
    }

    static func path(of uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// Adds the web client's routes and `/ws` to `router`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        WebClientFiles.register(on: router)
        let policy = originPolicy
        router.get(RouterPath(Self.webSocketPath)) { request, _ -> Response in
            // Only a handshake that was not upgraded comes here.
            let origin = request.headers[.origin]
            if !policy.allows(origin: origin, host: request.head.authority) {
                return WebClientFiles.text(
                    "WebSocket refused: pages from \(origin ?? "?") may not open this chat. The server's operator can allow them with --http-allow-origin.\n",
                    status: .forbidden)
            }
            return WebClientFiles.text("This is the chat's WebSocket: connect with a WebSocket client (Upgrade: websocket, Sec-WebSocket-Version: 13).\n", status: .upgradeRequired)
        }
    }
}
