import ChatGateway
import ChatOperations
import ChatServer
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The files of the certificate the chat port serves, which the HTTP listener serves too.
struct CertificateFiles {
    var chain: String
    var key: String
}

/// The operators' HTTP listener as `chatterbox server` sets it up (`--http-port`).
struct OperatorsListener {
    let configuration: OperatorsHTTPConfiguration
    let exporter: MetricsExporter
    let originPolicy: OriginPolicy

    /// The listener serving `server`'s health, readiness and metrics, and the web client with
    /// its WebSocket (the browser gateway), on the chat server's event loops.
    func service(for server: ChatServer, logger: Logger) -> any Service {
        let router = Router()
        OperatorEndpoints(server: server, exporter: exporter).register(on: router)
        let gateway = BrowserGateway(server: server, originPolicy: originPolicy)
        gateway.register(on: router)
        let loops = server.borrowEventLoops()
        let http = OperatorsHTTPServer(
            configuration: configuration, router: router, logger: logger, eventLoopGroup: loops, makeChannel: gateway.makeChannel)
        return AnnouncedService(http: http, server: loops == nil ? nil : server, scheme: configuration.tls == nil ? "http" : "https")
    }
}

/// Runs the listener and says where it listens, once it does; then gives the chat server's
/// event loops back.
private struct AnnouncedService: Service {
    let http: OperatorsHTTPServer
    /// The server whose loops the listener borrowed.
    let server: ChatServer?
    let scheme: String

    func run() async throws {
        let (http, scheme) = (self.http, self.scheme)
        let announcement = Task {
            guard let address = await http.boundAddress() else { return }
            let host = address.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "?"
            let port = address.port ?? 0
            Console.line("Operators' HTTP listener on \(host) port \(port): \(scheme)://HOST:\(port)/metrics, /health, /ready")
            Console.line("Web client: open \(scheme)://localhost:\(port)/ in a browser (or this machine's name instead of localhost)")
        }
        defer { announcement.cancel() }
        do {
            try await http.run()
        } catch {
            await server?.returnEventLoops()
            throw error
        }
        await server?.returnEventLoops()
    }
}

extension ServerCommand {
    /// The version exported in `chatterbox_build_info`.
    static let version = Chatterbox.configuration.version

    /// The HTTP listener of `--http-port`, with the chat port's certificate unless
    /// `--http-plaintext`; `nil` without `--http-port`.
    func operatorsListener(certificate: CertificateFiles?, logger: Logger) throws -> OperatorsListener? {
        guard let httpPort else { return nil }
        let host = httpHost ?? self.host
        if let problem = PortProbe.problem(host: host, port: httpPort) {
            throw fail("cannot listen for HTTP on \(host.isEmpty ? "every local address" : host) port \(httpPort): \(problem)")
        }
        var tls: ReloadableTLSContext?
        if !httpPlaintext {
            guard let certificate else {
                throw fail("--http-port serves HTTPS with the chat port's certificate: with --plaintext, add --http-plaintext.")
            }
            do {
                tls = try ReloadableTLSContext(certificateChainPath: certificate.chain, privateKeyPath: certificate.key)
            } catch {
                throw fail("cannot set up TLS for the HTTP listener: \(error)")
            }
        }
        return OperatorsListener(
            configuration: OperatorsHTTPConfiguration(host: host, port: httpPort, tls: tls),
            exporter: MetricsExporter(version: Self.version),
            originPolicy: OriginPolicy(additionalOrigins: httpAllowOrigin))
    }
}
