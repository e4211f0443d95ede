import AsyncHTTPClient
import ChatOperations
import ChatServer
import ChatStore
import ChatTestSupport
import ChatTLS
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// A chat server with its operators' HTTP listener, both on loopback, and an HTTP client that
/// trusts the server's CA.
struct OperatorsFixture {
    let chat: TestServer
    let http: OperatorsHTTPServer
    let baseURL: String
    let client: HTTPClient

    /// Runs `body` with a fresh server (metrics recorded into the listener's exporter) and its
    /// listener, HTTPS unless `plaintext`; everything is stopped afterwards.
    static func with(
        plaintext: Bool = false,
        makeStore: @escaping (String) throws -> any ChatStore = TestServer.defaultStore,
        _ body: (OperatorsFixture) async throws -> Void
    ) async throws {
        let exporter = MetricsExporter(version: "test")
        try await TestServer.with(configure: { $0.metricsFactory = exporter.factory }, makeStore: makeStore) { chat in
            let certificates = try LocalCertificateAuthority.loadOrCreate(in: chat.dataDirectory)
            let tls = plaintext ? nil : try ReloadableTLSContext(
                certificateChainPath: certificates.server.certificatePath, privateKeyPath: certificates.server.privateKeyPath)
            let router = Router()
            OperatorEndpoints(server: chat.server, exporter: exporter).register(on: router)
            var logger = Logger(label: "test.operators")
            logger.logLevel = .critical
            let http = OperatorsHTTPServer(
                configuration: OperatorsHTTPConfiguration(host: "127.0.0.1", port: 0, tls: tls), router: router, logger: logger)
            let running = Task { try await http.run() }
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(caPath: certificates.caCertificatePath))
            try await withTeardown {
                try await withTeardown {
                    guard let address = await http.boundAddress(), let port = address.port else { throw TestFailure("the HTTP listener did not start") }
                    let fixture = OperatorsFixture(chat: chat, http: http, baseURL: "\(plaintext ? "http" : "https")://127.0.0.1:\(port)", client: client)
                    try await body(fixture)
                } teardown: {
                    try await client.shutdown()
                }
            } teardown: {
                running.cancel()
                _ = try? await running.value
            }
        }
    }

    static func clientConfiguration(caPath: String) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caPath)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(30), read: .seconds(30))
        return configuration
    }

    /// GET `path`: the status and the body as text.
    func get(_ path: String) async throws -> HTTPAnswer {
        try await Self.get(baseURL + path, client: client)
    }

    static func get(_ url: String, client: HTTPClient) async throws -> HTTPAnswer {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return HTTPAnswer(Int(response.status.code), String(buffer: body))
    }

    /// The metrics now, by series (`name` or `name{labels}`).
    func metrics() async throws -> [String: Double] {
        let answer = try await get("/metrics")
        guard answer.status == 200 else { throw TestFailure("/metrics answered \(answer.status)") }
        return PrometheusText.samples(answer.body)
    }
}

/// Reads Prometheus' text format: each sample line's series and value.
enum PrometheusText {
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}

/// An HTTP response's status and body.
struct HTTPAnswer: Equatable, CustomStringConvertible {
    var status: Int
    var body: String

    init(_ status: Int, _ body: String) {
        self.status = status
        self.body = body
    }

    var description: String { "\(status) \(body)" }
}
