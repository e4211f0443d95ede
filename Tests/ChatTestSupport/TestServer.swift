import ChatClient
import ChatProtocol
import ChatServer
import ChatStore
import ChatStoreSQLite
import ChatTLS
import Foundation
import Logging
import NIOCore
import NIOConcurrencyHelpers

/// A real server on loopback: TLS with a generated CA, SQLite in `dataDirectory`, port 0.
public final class TestServer: Sendable {
    public let server: ChatServer
    public let port: Int
    public let dataDirectory: String
    public let caPath: String?
    /// Every client made through this server, closed by ``stop()``.
    private let clients = NIOLockedValueBox<[TestClient]>([])

    /// Runs `body` with a fresh server in a temporary directory. The server and every client
    /// made through it are stopped afterwards, also when `body` throws.
    public static func with<Result>(
        tls: Bool = true,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        makeStore: (String) throws -> any ChatStore = defaultStore,
        _ body: (TestServer) async throws -> Result
    ) async throws -> Result {
        let directory = TemporaryDirectory()
        return try await with(dataDirectory: directory.path, tls: tls, configure: configure, makeStore: makeStore, body)
    }

    /// The store servers use unless told otherwise: SQLite in the data directory.
    public static func defaultStore(dataDirectory: String) throws -> any ChatStore {
        try SQLiteChatStore(path: dataDirectory + "/chatterbox.sqlite")
    }

    /// Runs `body` with a server on `dataDirectory` (kept afterwards, for restarts).
    public static func with<Result>(
        dataDirectory: String,
        tls: Bool = true,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        makeStore: (String) throws -> any ChatStore = defaultStore,
        _ body: (TestServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(dataDirectory: dataDirectory, tls: tls, configure: configure, makeStore: makeStore)
        return try await withTeardown { try await body(server) } teardown: { await server.stop() }
    }

    public static func start(
        dataDirectory: String,
        tls: Bool = true,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        makeStore: (String) throws -> any ChatStore = defaultStore
    ) async throws -> TestServer {
        // Functional tests run unthrottled and with generous deadlines (they also run under
        // ThreadSanitizer, many times slower); the tests of the limits set them explicitly.
        var limits = ServerConfiguration.Limits.unlimited
        limits.handshakeTimeout = .seconds(120)
        limits.loginTimeout = .seconds(300)
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopThreads: 2, limits: limits)
        configuration.fileDirectory = dataDirectory + "/files"
        // However full the test machine's disk: the tests of the floor set it themselves.
        configuration.minimumFreeDiskBytes = 0
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
        let store = try makeStore(dataDirectory)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let server = try await ChatServer.open(configuration: configuration, store: store, logger: logger)
        let addresses = try await server.start()
        return TestServer(server: server, port: addresses.first!.port!, dataDirectory: dataDirectory, caPath: caPath)
    }

    private init(server: ChatServer, port: Int, dataDirectory: String, caPath: String?) {
        self.server = server
        self.port = port
        self.dataDirectory = dataDirectory
        self.caPath = caPath
    }

    public var security: ConnectionSecurity {
        caPath.map { .tls(.certificateAuthorityFile($0)) } ?? .plaintext
    }

    /// A connected client (not logged in), trusting the server's CA unless told otherwise.
    /// `localAddress` is the address it connects from (every 127.x.y.z is the loopback on
    /// Linux: "127.0.0.2" is another machine as far as the server can tell).
    public func connect(host: String = "127.0.0.1", security: ConnectionSecurity? = nil, from localAddress: String? = nil) async throws -> TestClient {
        let client = try await TestClient.connect(host: host, port: port, security: security ?? self.security, from: localAddress)
        clients.withLockedValue { $0.append(client) }
        return client
    }

    /// A client logged in as `name`; its login reply has been read.
    public func login(_ name: String, from localAddress: String? = nil, features: [String]? = nil) async throws -> TestClient {
        let client = try await connect(from: localAddress)
        let reply = try await client.login(name, features: features)
        guard reply.usernameAccepted == true else {
            throw TestFailure("login as \(name) refused: \(reply.info ?? "")")
        }
        return client
    }

    /// Closes every client made through this server, then stops the server.
    public func stop() async {
        let made = clients.withLockedValue { clients in
            defer { clients = [] }
            return clients
        }
        for client in made { await client.close() }
        await server.stop()
    }
}
