import ArgumentParser
import ChatGateway
import ChatOperations
import ChatServer
import ChatStorePostgres
import ChatStoreSQLite
import ChatTLS
import Foundation
import Logging
import NIOCore
import NIOPosix

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

    @Option(help: ArgumentHelp(
        "A YAML file of settings, each named as its flag without the dashes (http-port: 9443). Precedence: flag > environment (CHATTERBOX_HTTP_PORT=9443) > file > default. Also CHATTERBOX_CONFIG.",
        valueName: "file"))
    var config: String?

    @Flag(help: "Print the effective configuration (secrets masked) and exit.")
    var printConfig = false

    @Argument(help: "Host to listen on: \"\" (the default) for every local address, IPv4 and IPv6; otherwise what getaddrinfo returns for it.")
    var host: String = ""

    @Option(name: .shortAndLong, help: "TCP port.")
    var port: Int = 9000

    @Option(name: .customLong("data-dir"), help: "Directory for the database and generated certificates.")
    var dataDirectory: String = "./chatterbox-data"

    @Option(help: ArgumentHelp(
        "Where everything durable is kept: sqlite (the default: DATA_DIR/chatterbox.sqlite) or a PostgreSQL database, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=disable|prefer|require]. Also CHATTERBOX_STORE.",
        valueName: "store"))
    var store: String?

    @Option(help: "This server's name among those sharing its PostgreSQL store (default: the host name). Each needs its own.")
    var node: String?

    @Option(help: "Seconds the other servers sharing the store wait, after this one stops renewing its lease (it died), before they announce its users as gone.")
    var presenceLeaseSeconds: Int = 10

    @Flag(name: .customLong("init"), help: "Start with an empty database in a data directory that was used before and has lost its database (otherwise refused: history and registered names would be gone). Never deletes anything.")
    var initialise = false

    @Option(help: "PEM certificate chain to serve (with --key). Default: a generated one.")
    var cert: String?

    @Option(help: "PEM private key of --cert.")
    var key: String?

    @Flag(help: "Serve plain TCP without TLS, for clients that never added TLS. Not encrypted!")
    var plaintext = false

    @Option(name: .customLong("cert-name"), help: ArgumentHelp("A DNS name clients use for this server, added to the generated certificate (which already names localhost, this host's name and every local address); repeatable.", valueName: "name"))
    var certNames: [String] = []

    @Option(help: "Most recent messages sent to a user at login.")
    var historyLimit: Int = 1000

    @Option(help: "Largest frame accepted from a client, in bytes.")
    var maxFrameBytes: Int = 1 << 20

    @Option(help: "Longest message CONTENT accepted, in bytes.")
    var maxContentBytes: Int = 64 * 1024

    @Option(help: "Bytes that may wait to be sent to one client before it is disconnected as too slow (while the queues together fill less than half of their share of --max-queued-bytes-total).")
    var maxQueuedBytes: Int = 8 << 20

    @Option(help: "The memory budget: bytes the whole server process should stay under. Bytes waiting to be sent to clients get at most half of it, less whatever the rest of the process holds beyond the other half (measured four times a second); as the queues fill their share, each slow reader's cap shrinks from --max-queued-bytes (half of the share) to 64 KiB (all of it), so the longest queues are cut first. Default: an eighth of the memory.")
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

    @Option(name: .customLong("connection-limit-exempt"), help: ArgumentHelp("An address or network (ADDRESS[/PREFIX]) whose connections --max-connections-per-address does not count; repeatable. Loopback is exempt unless --limit-loopback.", valueName: "network"))
    var connectionLimitExempt: [String] = []

    @Flag(help: "Count connections from loopback (this machine) against --max-connections-per-address too.")
    var limitLoopback = false

    @Option(help: "Leading bits of an IPv4 address that count as one address for --max-connections-per-address.")
    var ipv4ConnectionPrefix: Int = 32

    @Option(help: "Leading bits of an IPv6 address that count as one address for --max-connections-per-address (64: one subscriber's network).")
    var ipv6ConnectionPrefix: Int = 64

    @Option(help: "Messages one user may send per second, sustained (0: unlimited).")
    var messageRate: Double = 10

    @Option(help: "Messages one user may send in a burst.")
    var messageBurst: Int = 20

    @Option(help: "How long an unregistered name stays reserved for the address that last used it, after its user was last seen (0: off). Seconds, or with a unit: 90s, 10m, 12h, 30d.")
    var nameReservation = DurationArgument(seconds: 30 * 86_400)

    @Option(help: "Users never registered, unseen this long (not before their name's reservation ends) and with nothing stored for them are forgotten (0: never).")
    var forgetUsersAfter = DurationArgument(seconds: 30 * 86_400)

    @Option(help: "Largest file accepted for transfer, in bytes.")
    var maxFileBytes: Int64 = 64 << 20

    @Option(help: "Most bytes of files one user may have stored.")
    var fileQuotaBytes: Int64 = 512 << 20

    @Option(help: "Most bytes of files stored in all, every user's together (uploads under way included).")
    var filesTotalBytes: Int64 = 8 << 30

    @Option(help: "Free disk space, in bytes, that uploads must leave on the disk holding the files: below it they are refused and chat goes on (0: no floor).")
    var minFreeDiskBytes: Int64 = 1 << 30

    @Option(help: "An upload that receives nothing for this long is abandoned and its partial file removed (seconds, or with a unit: 90s, 10m, 12h, 30d).")
    var uploadIdleTimeout = DurationArgument(seconds: 600)

    @Option(help: "Stored files are deleted this long after they were uploaded (0: kept forever).")
    var fileLifetime = DurationArgument(seconds: 30 * 86_400)

    @Flag(help: "Switch file transfer off.")
    var noFiles = false

    @Option(help: "Where uploaded files are kept (default: DATA_DIR/files). In a cluster, files are offered only when this names a directory every node shares (network storage).")
    var filesDir: String?

    @Option(help: "Frame bytes read from one connection per second, counted after decompression (0: unlimited); bursts of twice that.")
    var readBytesPerSecond: Int = 8 << 20

    @Option(help: "How long a frame may take to arrive once its first bytes have (the server's own read pauses do not count). Seconds, or with a unit: 90s, 10m.")
    var frameTimeout = DurationArgument(seconds: 30)

    @Option(help: "Searches, history pages and file listings one user may have waiting or running at once; more are answered busy (0: unlimited).")
    var requestsInFlight: Int = 4

    @Option(help: "Milliseconds of request-thread time one user's searches, pages and file listings may take per second, sustained.")
    var requestMsPerSecond: Int = 250

    @Option(help: "Milliseconds of request-thread time one user's searches, pages and file listings may take in a burst.")
    var requestMsBurst: Int = 2000

    @Option(help: "Requests (searches, pages, file listings and file I/O) waiting or running for all users together; more are answered busy (0: unlimited). Logins have threads of their own.")
    var requestsQueued: Int = 256

    @Option(help: "Milliseconds a search or history page may run in the database before it is stopped.")
    var queryTimeLimitMs: Int = 1000

    @Option(help: "Fewest letters before the * of a prefix search word.")
    var searchPrefixMin: Int = 3

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

    @Option(help: "Port of the operators' HTTP listener: /health, /ready, /metrics (off by default). HTTPS with the chat port's certificate unless --http-plaintext.")
    var httpPort: Int?

    @Option(help: "Host the HTTP listener binds (default: the chat port's host).")
    var httpHost: String?

    @Flag(help: "Serve the HTTP listener without TLS (behind a reverse proxy, or on loopback for a local Prometheus).")
    var httpPlaintext = false

    @Option(help: "An origin (https://chat.example.com) whose pages may open the web client's WebSocket besides the server's own; repeatable. Needed behind a proxy that rewrites Host.")
    var httpAllowOrigin: [String] = []

    @Option(help: "Seconds SIGTERM/SIGINT give the server to drain (tell clients, commit what was accepted, close) before it exits anyway, with status 1.")
    var shutdownTimeout: Int = 10

    @Option(name: .customLong("operator"), help: ArgumentHelp("An operator's name: a registered user who, logged in with their password, may /Kick, /Ban, /Unban and /Announce; repeatable (a list in the file). An unregistered name is never an operator. SIGHUP re-reads it.", valueName: "name"))
    var operators: [String] = []

    @Option(help: "The message of the day, sent as INFO at every login. SIGHUP re-reads it.")
    var motd: String?

    @Option(help: "A file holding the message of the day (instead of --motd); re-read at SIGHUP.")
    var motdFile: String?

    @Flag(help: "Open no admin socket (DATA_DIR/admin.sock, for chatterbox admin).")
    var noAdminSocket = false

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log format: text (one readable line per event) or json (one JSON object per line: timestamp, level, label, event and its fields).")
    var logFormat: String = "text"

    func validate() throws {
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together.") }
        if plaintext, cert != nil { throw ValidationError("--plaintext serves no certificate; drop --cert/--key.") }
        if !certNames.isEmpty, cert != nil || plaintext { throw ValidationError("--cert-name names the generated certificate; drop it with --cert or --plaintext.") }
        for name in certNames where name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "/" }) {
            throw ValidationError("--cert-name: \"\(name)\" is not a host name.")
        }
        guard (0...65535).contains(port) else { throw ValidationError("Port must be 0...65535.") }
        if let httpPort {
            guard (0...65535).contains(httpPort) else { throw ValidationError("--http-port must be 0...65535.") }
            if httpPort == port, httpPort != 0 { throw ValidationError("--http-port must differ from the chat port.") }
        } else if httpPlaintext || httpHost != nil || !httpAllowOrigin.isEmpty {
            throw ValidationError("--http-plaintext, --http-host and --http-allow-origin need --http-port.")
        }
        for origin in httpAllowOrigin where !OriginPolicy.isValid(origin) {
            throw ValidationError("--http-allow-origin: \"\(origin)\" is not an origin (a scheme, :// and a host, like https://chat.example.com).")
        }
        guard historyLimit >= 0, maxFrameBytes >= 64, maxContentBytes >= 1, maxQueuedBytes >= 64 << 10 else {
            throw ValidationError("Limits must be positive (and --max-queued-bytes at least 65536).")
        }
        if let maxQueuedBytesTotal, maxQueuedBytesTotal < 1 << 20 {
            throw ValidationError("--max-queued-bytes-total must be at least 1048576.")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("Unknown log level \(logLevel).") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format: expected text or json, got \(logFormat).") }
        for network in connectionLimitExempt where IPNetwork(network) == nil {
            throw ValidationError("--connection-limit-exempt: \(network) is not an IP address or ADDRESS/PREFIX network.")
        }
        guard (1...32).contains(ipv4ConnectionPrefix), (1...128).contains(ipv6ConnectionPrefix) else {
            throw ValidationError("--ipv4-connection-prefix must be 1...32 and --ipv6-connection-prefix 1...128.")
        }
        guard maxConnectionsPerAddress >= 0, maxConnections >= 0, messageRate >= 0, messageBurst >= 1,
              (loginTimeout ?? 1) >= 1, (handshakeTimeout ?? 1) >= 1, maxFileBytes >= 0, fileQuotaBytes >= 0,
              filesTotalBytes >= 0, minFreeDiskBytes >= 0, uploadIdleTimeout.seconds >= 1 else {
            throw ValidationError("Limits must be positive (0 means unlimited where allowed).")
        }
        guard requestsInFlight >= 0, requestMsPerSecond >= 1, requestMsBurst >= 1, requestsQueued >= 0, queryTimeLimitMs >= 1 else {
            throw ValidationError("--requests-in-flight and --requests-queued must be 0 or more; --request-ms-per-second, --request-ms-burst and --query-time-limit-ms at least 1.")
        }
        guard readBytesPerSecond >= 0, frameTimeout.seconds >= 1 else {
            throw ValidationError("--read-bytes-per-second must be 0 or more, --frame-timeout at least 1.")
        }
        guard (1...64).contains(searchPrefixMin) else { throw ValidationError("--search-prefix-min must be 1...64.") }
        if motd != nil, motdFile != nil { throw ValidationError("--motd and --motd-file: give one or the other.") }
        for name in operators where name.isEmpty || name.contains(where: \.isWhitespace) {
            throw ValidationError("--operator: \"\(name)\" is not a username.")
        }
        guard shutdownTimeout >= 1 else { throw ValidationError("--shutdown-timeout must be at least 1.") }
        guard presenceLeaseSeconds >= 2 else { throw ValidationError("--presence-lease-seconds must be at least 2.") }
        if let node, node.isEmpty || node.count > 64 { throw ValidationError("--node must be a name of 1 to 64 characters.") }
    }

    func run() async throws {
        if printConfig {
            Console.write(ServerSettingsSources.printable(self))
            return
        }
        let levelSwitch = LogLevelSwitch(Logger.Level(rawValue: logLevel) ?? .info)
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var inner: any LogHandler = StreamLogHandler.standardError(label: label)
            if json { inner = JSONLogHandler(label: label) }
            return SwitchableLevelLogHandler(inner: inner, levelSwitch: levelSwitch)
        }
        let logger = Logger(label: "chatterbox")
        if let problem = PortProbe.problem(host: host, port: port) {
            throw fail("cannot listen on \(host.isEmpty ? "every local address" : host) port \(port): \(problem)")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw fail("cannot use the data directory \(dataDirectory): \(error.localizedDescription)")
        }
        let storeLocation = try chosenStore()
        // Before anything is created in it (the generated certificate would count as a sign).
        let directory = DataDirectory(path: dataDirectory)
        if storeLocation == nil {
            if let refusal = directory.refusal(initialise: initialise) { throw fail(refusal) }
            if initialise {
                for moved in directory.setAsideOrphanedLog() {
                    Console.error("chatterbox: --init: moved a database log left without its database to \(moved)")
                }
            }
        }

        var configuration = ServerConfiguration(host: host, port: port)
        configuration.historyLimit = historyLimit
        configuration.maximumFrameLength = maxFrameBytes
        configuration.maximumContentBytes = maxContentBytes
        configuration.outboundQueueLimit = maxQueuedBytes
        if let maxQueuedBytesTotal { configuration.outboundQueueBudget = maxQueuedBytesTotal }
        // The process is the server's alone: the budget bounds all of it.
        configuration.outboundBudgetCountsProcessMemory = true
        configuration.unsentBytesLimit = max(0, unsentBytesLimit)
        configuration.serverName = serverName
        configuration.limits = limits
        configuration.sendsImmediately = !nagle
        if let gatherWindowMicroseconds { configuration.gatherWindow = .microseconds(max(0, gatherWindowMicroseconds)) }
        configuration.nameReservation = nameReservation.timeAmount
        configuration.forgetUsersAfter = forgetUsersAfter.timeAmount
        configuration.fileDirectory = noFiles ? nil : (filesDir ?? dataDirectory + "/files")
        configuration.fileDirectoryIsShared = filesDir != nil
        configuration.maximumFileBytes = maxFileBytes
        configuration.fileQuotaPerUser = fileQuotaBytes
        configuration.fileQuotaTotal = filesTotalBytes
        configuration.minimumFreeDiskBytes = minFreeDiskBytes
        configuration.uploadIdleTimeout = uploadIdleTimeout.timeAmount
        configuration.fileLifetime = fileLifetime.timeAmount
        if let threads { configuration.eventLoopThreads = max(1, threads) }
        configuration.operators = operators
        do {
            configuration.motd = try messageOfTheDay()
        } catch {
            throw fail("\(error)")
        }
        if !noAdminSocket { configuration.adminSocketPath = AdminClient.socketPath(inDataDirectory: dataDirectory) }
        let (tls, caPath, certificate) = try makeTLS()
        configuration.tls = tls
        let operators = try operatorsListener(certificate: certificate, logger: logger)
        configuration.metricsFactory = operators?.exporter.factory

        let server: ChatServer
        if let storeLocation {
            // On a shared store this server is one node of a cluster (perhaps the only one).
            configuration.cluster = ClusterSettings(
                node: node ?? ProcessInfo.processInfo.hostName, lease: .seconds(presenceLeaseSeconds))
            server = try await openServer(configuration: configuration, postgres: storeLocation, logger: logger)
        } else {
            server = try openServer(configuration: configuration, directory: directory, logger: logger)
        }
        // The service group installs the signal handlers before the server binds, so a
        // SIGTERM that arrives during start-up still shuts down gracefully.
        let transport = plaintext ? "plain TCP" : "TLS"
        let names = hintNames
        let isPlaintext = plaintext
        let service = ListeningService(server: server) { addresses in
            for address in addresses {
                Console.line("Listening on \(address.ipAddress ?? "?") port \(address.port ?? 0) (\(transport))")
            }
            if let port = addresses.first?.port {
                for line in ConnectHints.lines(names: names, port: port, caPath: caPath, plaintext: isPlaintext) { Console.line(line) }
            }
        }
        // The chat server stops first (services stop in reverse order) while /ready says so.
        let reload = ReloadService(logger: logger) { [self, logger] in
            reloadCertificate(certificate, server: server, http: operators?.configuration.tls, logger: logger)
            reloadSettings(server: server, levelSwitch: levelSwitch, logger: logger)
        }
        let services: [any Service] = (operators.map { [$0.service(for: server, logger: logger)] } ?? []) + [reload, service, ShutdownDeadline(seconds: shutdownTimeout, logger: logger)]
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await group.run()
        } catch {
            throw fail("cannot listen on \(host.isEmpty ? "every local address" : host) port \(port): \(error)")
        }
    }

    /// The PostgreSQL database of `--store` (or `CHATTERBOX_STORE`); `nil` for the embedded
    /// SQLite store.
    private func chosenStore() throws -> PostgresLocation? {
        let chosen = store ?? ProcessInfo.processInfo.environment["CHATTERBOX_STORE"].flatMap { $0.isEmpty ? nil : $0 } ?? "sqlite"
        if chosen.lowercased() == "sqlite" { return nil }
        guard PostgresLocation.isURL(chosen) else {
            throw fail("--store: expected sqlite or postgres://USER[:PASSWORD]@HOST[:PORT]/DB")
        }
        do {
            return try PostgresLocation(url: chosen)
        } catch {
            throw fail("--store: \(error)")
        }
    }

    /// The server on the embedded store in `directory`.
    private func openServer(configuration: ServerConfiguration, directory: DataDirectory, logger: Logger) throws -> ChatServer {
        let databasePath = directory.databasePath
        let server: ChatServer
        do {
            let store = try SQLiteChatStore(
                path: databasePath, durability: syncCommits ? .powerLoss : .processCrash, checksIntegrity: true)
            server = try ChatServer(configuration: configuration, store: store, logger: logger)
        } catch let damage as DatabaseDamage {
            throw fail("""
                \(damage)
                Nothing was changed. Restore chatterbox.sqlite from a backup; or recover what can be read \
                (sqlite3 \(databasePath) .recover | sqlite3 recovered.sqlite, then put recovered.sqlite in its \
                place); or move it aside and run with --init to start with an empty database.
                """)
        } catch {
            throw fail("""
                cannot open the database \(databasePath): \(error)
                If the file is damaged or not a Chatterbox database, restore a backup, or move it aside and run with --init to start with an empty one.
                """)
        }
        directory.writeMarker()
        return server
    }

    /// The server on the PostgreSQL database at `location`, its schema brought up to date.
    private func openServer(configuration: ServerConfiguration, postgres location: PostgresLocation, logger: Logger) async throws -> ChatServer {
        let store = PostgresChatStore(location: location, logger: logger)
        do {
            try await store.prepare()
        } catch {
            await store.close()
            throw fail("cannot use the database \(location): \(error)")
        }
        logger.info("Store: \(location)")
        do {
            return try await ChatServer.open(configuration: configuration, store: store.blocking(), logger: logger)
        } catch {
            await store.close()
            throw fail("cannot load from the database \(location): \(error)")
        }
    }

    var limits: ServerConfiguration.Limits {
        var limits = noLimits ? ServerConfiguration.Limits.unlimited : ServerConfiguration.Limits()
        if !noLimits {
            limits.connectionsPerAddress = maxConnectionsPerAddress
            limits.connections = maxConnections
            limits.connectionLimitExemptions = (limitLoopback ? [] : IPNetwork.loopback) + connectionLimitExempt.compactMap(IPNetwork.init)
            limits.ipv4ConnectionPrefixLength = ipv4ConnectionPrefix
            limits.ipv6ConnectionPrefixLength = ipv6ConnectionPrefix
            limits.messagesPerSecond = messageRate
            limits.messageBurst = messageBurst
            limits.requestsInFlight = requestsInFlight
            limits.requestTimePerSecond = .milliseconds(requestMsPerSecond)
            limits.requestTimeBurst = .milliseconds(requestMsBurst)
            limits.requestsQueued = requestsQueued
            limits.readBytesPerSecond = readBytesPerSecond
            // At least two of the largest frames, so that one never waits on its own.
            limits.readByteBurst = max(2 * readBytesPerSecond, 2 * maxFrameBytes)
        }
        limits.frameTimeout = frameTimeout.timeAmount
        limits.queryTimeLimit = .milliseconds(queryTimeLimitMs)
        limits.searchPrefixMinimum = searchPrefixMin
        // A benchmark's storm of a thousand handshakes on one core may take longer than a
        // real client ever should: --no-limits waits minutes unless told otherwise.
        let patience = noLimits ? 300 : nil
        limits.loginTimeout = .seconds(Int64(loginTimeout ?? patience ?? 60))
        limits.handshakeTimeout = .seconds(Int64(handshakeTimeout ?? patience ?? 10))
        return limits
    }

    /// The names the generated certificate covers: this machine's (host name, every local
    /// address), the --cert-name ones, and the host listened on.
    private var certificateNames: [String] {
        var names = LocalCertificateAuthority.defaultHostNames() + certNames
        if !host.isEmpty, !names.contains(host), host != "0.0.0.0", host != "::" { names.append(host) }
        return names
    }

    /// The names to show client commands for: every name clients can use, or only the host
    /// listened on when it is a particular one.
    private var hintNames: [String] {
        if !host.isEmpty, host != "0.0.0.0", host != "::" { return [host] }
        return certificateNames
    }

    /// The TLS context: the given certificate, or the generated one (and its CA's path, and
    /// the files of the certificate served); `nil` for --plaintext.
    private func makeTLS() throws -> (ServerTLSContext?, String?, CertificateFiles?) {
        if plaintext {
            Console.error("WARNING: --plaintext: messages and usernames cross the network UNENCRYPTED.")
            return (nil, nil, nil)
        }
        do {
            guard let engine = ServerTLSContext.Engine(rawValue: tlsEngine) else {
                throw ValidationError("--tls-engine: expected one of \(ServerTLSContext.Engine.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if let cert, let key {
                warnIfReadableByOthers(key)
                return (
                    try TLSContexts.server(certificateChainPath: cert, privateKeyPath: key, engine: engine, sendsToSocket: !pipelineWrites), nil,
                    CertificateFiles(chain: cert, key: key))
            }
            let generated = try LocalCertificateAuthority.loadOrCreate(in: dataDirectory, hostNames: certificateNames)
            warnIfReadableByOthers(generated.server.privateKeyPath)
            let context = try TLSContexts.server(
                certificateChainPath: generated.server.certificatePath,
                privateKeyPath: generated.server.privateKeyPath,
                engine: engine,
                sendsToSocket: !pipelineWrites
            )
            let caPath = URL(fileURLWithPath: generated.caCertificatePath).standardizedFileURL.path
            if generated.createdAuthority { Console.line("Created a certificate authority for this server: \(caPath)") }
            if generated.issuedServerCertificate, !generated.createdAuthority {
                Console.line("Issued a new server certificate (its names changed); clients keep trusting the same ca.crt.")
            }
            Console.line("Clients trust this server with: -ca \(caPath)")
            return (context, caPath, CertificateFiles(chain: generated.server.certificatePath, key: generated.server.privateKeyPath))
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
    func fail(_ message: String) -> ExitCode {
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
