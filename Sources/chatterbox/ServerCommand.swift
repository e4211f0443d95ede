import ArgumentParser
import ChatServer
import ChatStoreSQLite
import ChatTLS
import Foundation
import Logging
import NIOCore

import ServiceLifecycle

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the chat server.",
        discussion: """
            With no --cert/--key, the server creates a certificate authority and a server \
            certificate in the data directory on first start and reuses them afterwards; \
            clients trust it with -ca DATA_DIR/ca.crt.
            """
    )

    @Argument(help: "Host to listen on: \"\" (the default) for every local address, IPv4 and IPv6; otherwise what getaddrinfo returns for it.")
    var host: String = ""

    @Option(name: .shortAndLong, help: "TCP port.")
    var port: Int = 9000

    @Option(name: .customLong("data-dir"), help: "Directory for the database and generated certificates.")
    var dataDirectory: String = "./chatterbox-data"

    @Option(help: "PEM certificate chain to serve (with --key). Default: a generated one.")
    var cert: String?

    @Option(help: "PEM private key of --cert.")
    var key: String?

    @Flag(help: "Serve plain TCP without TLS, for clients that never added TLS. Not encrypted!")
    var plaintext = false

    @Option(help: "Most recent messages sent to a user at login.")
    var historyLimit: Int = 1000

    @Option(help: "Largest frame accepted from a client, in bytes.")
    var maxFrameBytes: Int = 1 << 20

    @Option(help: "Longest message CONTENT accepted, in bytes.")
    var maxContentBytes: Int = 64 * 1024

    @Option(help: "Bytes that may wait to be sent to one client before it is disconnected as too slow (while the queues together fill less than a quarter of --max-queued-bytes-total).")
    var maxQueuedBytes: Int = 8 << 20

    @Option(help: "Bytes that may wait to be sent to all clients together. As the queues fill it, each client's cap shrinks from --max-queued-bytes (a quarter full) to 64 KiB (half full), so the longest queues are cut first and the rest is left for the server itself. Default: an eighth of the memory.")
    var maxQueuedBytesTotal: Int?

    @Option(help: ArgumentHelp("Most bytes the kernel holds unsent for one connection (TCP_NOTSENT_LOWAT; 0: the kernel's default), for side-by-side benchmarks.", visibility: .hidden))
    var unsentBytesLimit: Int = 128 * 1024

    @Option(help: "Name of the server's pseudo-user that answers commands.")
    var serverName: String = "Chatterbox"

    @Flag(help: "fsync every commit so messages also survive power loss (slower). By default they survive a server crash.")
    var syncCommits = false

    @Option(help: "Most open connections from one IP address (0: unlimited).")
    var maxConnectionsPerAddress: Int = 20

    @Option(help: "Most open connections in all (0: unlimited).")
    var maxConnections: Int = 50_000

    @Option(help: "Messages one user may send per second, sustained (0: unlimited).")
    var messageRate: Double = 10

    @Option(help: "Messages one user may send in a burst.")
    var messageBurst: Int = 20

    @Option(help: "Seconds a name stays reserved for the address that last used it, after its user leaves (0: off).")
    var nameReservation: Int = 300

    @Option(help: "Largest file accepted for transfer, in bytes.")
    var maxFileBytes: Int64 = 64 << 20

    @Option(help: "Most bytes of files one user may have stored.")
    var fileQuotaBytes: Int64 = 512 << 20

    @Flag(help: "Switch file transfer off.")
    var noFiles = false

    @Option(help: "Seconds a connection has to log in, from the end of its TLS handshake (default 60; 300 with --no-limits).")
    var loginTimeout: Int?

    @Option(help: "Seconds a TLS handshake may take (default 10; 300 with --no-limits).")
    var handshakeTimeout: Int?

    @Flag(help: "Switch off connection, message, frame and error limits and lengthen the timeouts (benchmarks only).")
    var noLimits = false

    @Option(help: ArgumentHelp("Which TLS handler serves connections: direct (our own, default) or niossl (swift-nio-ssl's), for side-by-side benchmarks.", visibility: .hidden))
    var tlsEngine: String = ServerTLSContext.Engine.direct.rawValue

    @Flag(help: ArgumentHelp("Pass every write down the channel pipeline instead of sending to the socket directly while nothing is queued, for side-by-side benchmarks.", visibility: .hidden))
    var pipelineWrites = false

    @Flag(help: ArgumentHelp("Let the kernel delay small writes (Nagle's algorithm, no TCP_NODELAY), to compare with servers that do.", visibility: .hidden))
    var nagle = false

    @Option(help: ArgumentHelp("Microseconds the first delivery after a quiet spell waits for others to share its writes.", visibility: .hidden))
    var gatherWindowMicroseconds: Int64?

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together.") }
        if plaintext, cert != nil { throw ValidationError("--plaintext serves no certificate; drop --cert/--key.") }
        guard (0...65535).contains(port) else { throw ValidationError("Port must be 0...65535.") }
        guard historyLimit >= 0, maxFrameBytes >= 64, maxContentBytes >= 1, maxQueuedBytes >= 64 << 10 else {
            throw ValidationError("Limits must be positive (and --max-queued-bytes at least 65536).")
        }
        if let maxQueuedBytesTotal, maxQueuedBytesTotal < 1 << 20 {
            throw ValidationError("--max-queued-bytes-total must be at least 1048576.")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("Unknown log level \(logLevel).") }
        guard maxConnectionsPerAddress >= 0, maxConnections >= 0, messageRate >= 0, messageBurst >= 1,
              (loginTimeout ?? 1) >= 1, (handshakeTimeout ?? 1) >= 1, nameReservation >= 0, maxFileBytes >= 0, fileQuotaBytes >= 0 else {
            throw ValidationError("Limits must be positive (0 means unlimited where allowed).")
        }
    }

    func run() async throws {
        var logger = Logger(label: "chatterbox")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw fail("cannot use the data directory \(dataDirectory): \(error.localizedDescription)")
        }

        var configuration = ServerConfiguration(host: host, port: port)
        configuration.historyLimit = historyLimit
        configuration.maximumFrameLength = maxFrameBytes
        configuration.maximumContentBytes = maxContentBytes
        configuration.outboundQueueLimit = maxQueuedBytes
        if let maxQueuedBytesTotal { configuration.outboundQueueBudget = maxQueuedBytesTotal }
        configuration.unsentBytesLimit = max(0, unsentBytesLimit)
        configuration.serverName = serverName
        configuration.limits = limits
        configuration.sendsImmediately = !nagle
        if let gatherWindowMicroseconds { configuration.gatherWindow = .microseconds(max(0, gatherWindowMicroseconds)) }
        configuration.nameReservation = .seconds(Int64(nameReservation))
        configuration.fileDirectory = noFiles ? nil : dataDirectory + "/files"
        configuration.maximumFileBytes = maxFileBytes
        configuration.fileQuotaPerUser = fileQuotaBytes
        if let threads { configuration.eventLoopThreads = max(1, threads) }
        configuration.tls = try makeTLS()

        let databasePath = dataDirectory + "/chatterbox.sqlite"
        let server: ChatServer
        do {
            let store = try SQLiteChatStore(path: databasePath, durability: syncCommits ? .powerLoss : .processCrash)
            server = try ChatServer(configuration: configuration, store: store, logger: logger)
        } catch {
            throw fail("""
                cannot open the database \(databasePath): \(error)
                If the file is damaged or not a Chatterbox database, move it aside to start with an empty one, or restore a backup.
                """)
        }
        // The service group installs the signal handlers before the server binds, so a
        // SIGTERM that arrives during start-up still shuts down gracefully.
        let transport = plaintext ? "plain TCP" : "TLS"
        let service = ListeningService(server: server) { addresses in
            for address in addresses {
                Console.line("Listening on \(address.ipAddress ?? "?") port \(address.port ?? 0) (\(transport))")
            }
        }
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await group.run()
        } catch {
            throw fail("cannot listen on \(host.isEmpty ? "every local address" : host) port \(port): \(error)")
        }
    }

    private var limits: ServerConfiguration.Limits {
        var limits = noLimits ? ServerConfiguration.Limits.unlimited : ServerConfiguration.Limits()
        if !noLimits {
            limits.connectionsPerAddress = maxConnectionsPerAddress
            limits.connections = maxConnections
            limits.messagesPerSecond = messageRate
            limits.messageBurst = messageBurst
        }
        // A benchmark's storm of a thousand handshakes on one core may take longer than a
        // real client ever should: --no-limits waits minutes unless told otherwise.
        let patience = noLimits ? 300 : nil
        limits.loginTimeout = .seconds(Int64(loginTimeout ?? patience ?? 60))
        limits.handshakeTimeout = .seconds(Int64(handshakeTimeout ?? patience ?? 10))
        return limits
    }

    /// The TLS context: the given certificate, or the generated one; `nil` for --plaintext.
    private func makeTLS() throws -> ServerTLSContext? {
        if plaintext {
            Console.error("WARNING: --plaintext: messages and usernames cross the network UNENCRYPTED.")
            return nil
        }
        do {
            guard let engine = ServerTLSContext.Engine(rawValue: tlsEngine) else {
                throw ValidationError("--tls-engine: expected one of \(ServerTLSContext.Engine.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if let cert, let key {
                warnIfReadableByOthers(key)
                return try TLSContexts.server(certificateChainPath: cert, privateKeyPath: key, engine: engine, sendsToSocket: !pipelineWrites)
            }
            var names = LocalCertificateAuthority.defaultHostNames()
            if !host.isEmpty, !names.contains(host), host != "0.0.0.0", host != "::" { names.append(host) }
            let generated = try LocalCertificateAuthority.loadOrCreate(in: dataDirectory, hostNames: names)
            warnIfReadableByOthers(generated.server.privateKeyPath)
            let context = try TLSContexts.server(
                certificateChainPath: generated.server.certificatePath,
                privateKeyPath: generated.server.privateKeyPath,
                engine: engine,
                sendsToSocket: !pipelineWrites
            )
            let caPath = URL(fileURLWithPath: generated.caCertificatePath).standardizedFileURL.path
            if generated.createdAuthority { Console.line("Created a certificate authority for this server: \(caPath)") }
            Console.line("Clients trust this server with: -ca \(caPath)")
            return context
        } catch {
            throw fail("cannot set up TLS: \(error)")
        }
    }

    /// A private key others can read is a key others may have copied.
    private func warnIfReadableByOthers(_ path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue,
              mode & 0o077 != 0
        else { return }
        Console.error("WARNING: the private key \(path) is readable by other users (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
    }

    /// Prints `message` and returns the error that ends the process with status 1.
    private func fail(_ message: String) -> ExitCode {
        Console.error("chatterbox: " + message)
        return ExitCode.failure
    }
}

/// Runs the server as a service and reports where it listens.
private struct ListeningService: Service {
    let server: ChatServer
    let onListening: @Sendable ([SocketAddress]) -> Void

    func run() async throws {
        try await server.run(onListening: onListening)
    }
}
