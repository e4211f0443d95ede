import ChatClient
import ChatProtocol
import ChatServer
import ChatStoreSQLite
import ChatTLS
import Foundation
import Logging
import NIOCore

/// A temporary directory removed when the test is done with it.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("chatterbox-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A real server on loopback: TLS with a generated CA, SQLite in `dataDirectory`, port 0.
final class TestServer: Sendable {
    let server: ChatServer
    let port: Int
    let dataDirectory: String
    let caPath: String?

    static func start(
        dataDirectory: String,
        tls: Bool = true,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopThreads: 2)
        var caPath: String?
        if tls {
            let certificates = try LocalCertificateAuthority.loadOrCreate(in: dataDirectory)
            configuration.tls = try TLSContexts.server(
                certificateChainPath: certificates.server.certificatePath,
                privateKeyPath: certificates.server.privateKeyPath
            )
            caPath = certificates.caCertificatePath
        }
        configure(&configuration)
        let store = try SQLiteChatStore(path: dataDirectory + "/chatterbox.sqlite")
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let server = try ChatServer(configuration: configuration, store: store, logger: logger)
        let addresses = try await server.start()
        return TestServer(server: server, port: addresses.first!.port!, dataDirectory: dataDirectory, caPath: caPath)
    }

    private init(server: ChatServer, port: Int, dataDirectory: String, caPath: String?) {
        self.server = server
        self.port = port
        self.dataDirectory = dataDirectory
        self.caPath = caPath
    }

    var security: ConnectionSecurity {
        caPath.map { .tls(.certificateAuthorityFile($0)) } ?? .plaintext
    }

    /// A connected client (not logged in).
    func connect(host: String = "127.0.0.1") async throws -> TestClient {
        try await TestClient.connect(host: host, port: port, security: security)
    }

    /// A client logged in as `name`; its login reply has been read.
    func login(_ name: String) async throws -> TestClient {
        let client = try await connect()
        let reply = try await client.login(name)
        guard reply.usernameAccepted == true else {
            throw TestFailure("login as \(name) refused: \(reply.info ?? "")")
        }
        return client
    }

    func stop() async {
        await server.stop()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
