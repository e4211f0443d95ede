public import ChatServer
public import Hummingbird
import NIOCore

/// The operators' routes: `/health` (the process is up), `/ready` (it can serve: 503
/// otherwise, with the reasons), `/metrics` (Prometheus). `/healthz` and `/readyz` answer the
/// same, for orchestrators that expect those names.
public struct OperatorEndpoints: Sendable {
    public let server: ChatServer
    public let exporter: MetricsExporter
    /// How long `/ready` waits for the store's answer before it says the store is unreachable.
    public var storeTimeout: Duration = .seconds(2)

    public init(server: ChatServer, exporter: MetricsExporter) {
        self.server = server
        self.exporter = exporter
    }

    /// Adds the routes to `router` (which may serve more: the browser gateway's).
    public func register<Context: RequestContext>(on router: Router<Context>) {
        for path in ["/health", "/healthz"] {
            router.get(RouterPath(path)) { _, _ in Self.text("ok\n", status: .ok) }
        }
        for path in ["/ready", "/readyz"] {
            router.get(RouterPath(path)) { _, _ in
                let readiness = await server.readiness(timeout: storeTimeout)
                if readiness.isReady { return Self.text("ready\n", status: .ok) }
                return Self.text(readiness.problems.map { "not ready: \($0)\n" }.joined(), status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            // The store's check is shared with /ready's (at most one a second).
            let bytes = exporter.scrape(server, readiness: await server.readiness(timeout: storeTimeout))
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    private static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
