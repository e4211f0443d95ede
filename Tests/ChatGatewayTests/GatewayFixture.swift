import Foundation
import AsyncHTTPClient
import ChatGateway
import ChatOperations
import ChatServer
import ChatTestSupport
import ChatTLS
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A chat server (TLS on loopback, port 0) with its HTTP listener serving the browser gateway
/// on the server's event loops, as `chatterbox server --http-port` sets them up.
struct GatewayFixture {
    let chat: TestServer
    let httpPort: Int
    let caPath: String
    let client: HTTPClient

    /// Runs `body` with a fresh server configured by `configure`; everything is stopped after.
    static func with(
        originPolicy: OriginPolicy = OriginPolicy(),
        configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (GatewayFixture) async throws -> Void
    ) async throws {
        try await TestServer.with(configure: configure) { chat in
            let certificates = try LocalCertificateAuthority.loadOrCreate(in: chat.dataDirectory)
            let tls = try ReloadableTLSContext(
                certificateChainPath: certificates.server.certificatePath, privateKeyPath: certificates.server.privateKeyPath)
            let router = Router()
            let gateway = BrowserGateway(server: chat.server, originPolicy: originPolicy)
            gateway.register(on: router)
            var logger = Logger(label: "test.gateway")
            logger.logLevel = ProcessInfo.processInfo.environment["WS_TRACE"] == nil ? .critical : .trace
            guard let loops = chat.server.borrowEventLoops() else { throw TestFailure("the server's loops are gone") }
            let http = OperatorsHTTPServer(
                configuration: OperatorsHTTPConfiguration(host: "127.0.0.1", port: 0, tls: tls),
                router: router, logger: logger, eventLoopGroup: loops, makeChannel: gateway.makeChannel)
            let running = Task { try await http.run() }
            var configuration = HTTPClient.Configuration(tlsConfiguration: {
                var client = TLSConfiguration.makeClientConfiguration()
                client.trustRoots = .file(certificates.caCertificatePath)
                return client
            }())
            configuration.timeout = .init(connect: .seconds(30), read: .seconds(30))
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            func finish() async {
                try? await client.shutdown()
                // The chat server stops first (TestServer.with), then the listener gives the
                // loops back: the order `chatterbox server` uses.
                running.cancel()
                _ = try? await running.value
                await chat.server.returnEventLoops()
            }
            try await withTeardown {
                guard let port = await http.boundAddress()?.port else { throw TestFailure("the HTTP listener did not start") }
                try await body(GatewayFixture(chat: chat, httpPort: port, caPath: certificates.caCertificatePath, client: client))
            } teardown: {
                await chat.stop()
                await finish()
            }
        }
    }

    /// A WebSocket to `/ws`, as a page from `origin` would open it (by default as a program:
    /// WSClient sends `Origin: wss://127.0.0.1`, which no page has).
    func webSocket(origin: String? = nil) async throws -> WebSocketTestClient {
        try await WebSocketTestClient.connect(port: httpPort, caPath: caPath, origin: origin)
    }

    /// A WebSocket logged in as `name` (with the web client's features); its acceptance.
    func webSocketUser(_ name: String) async throws -> (WebSocketTestClient, [String: Any]) {
        let socket = try await webSocket()
        socket.send(#"{"USERNAME": "\#(name)", "FEATURES": ["commands", "accounts", "history", "files"]}"#)
        let reply = try await socket.next { $0["USERNAME_ACCEPTED"] != nil }
        guard reply["USERNAME_ACCEPTED"] as? Bool == true else { throw TestFailure("login refused: \(reply)") }
        return (socket, reply)
    }

    /// GET `path` with `headers`: status, headers and body.
    func get(_ path: String, headers: [(String, String)] = []) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(httpPort)\(path)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), response.headers, String(buffer: body))
    }
}

/// The messages of a decoded frame, as [SRC, DEST, TIMESTAMP, CONTENT] arrays.
func messages(in frame: [String: Any]) -> [[Any]] {
    frame["MESSAGES"] as? [[Any]] ?? []
}

func contents(in frame: [String: Any]) -> [String] {
    messages(in: frame).compactMap { $0.count == 4 ? $0[3] as? String : nil }
}
