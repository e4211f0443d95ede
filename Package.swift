// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Chatterbox",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "chatterbox", targets: ["chatterbox"]),
        .library(name: "ChatProtocol", targets: ["ChatProtocol"]),
        .library(name: "ChatServer", targets: ["ChatServer"]),
        .library(name: "ChatClient", targets: ["ChatClient"]),
        .library(name: "ChatTerminal", targets: ["ChatTerminal"]),
    ],
    dependencies: [
        // swift-nio and swift-nio-ssl are pinned to the minor versions the fast path was checked
        // against: it reaches below their public API (BoringSSL's C interface through
        // CNIOBoringSSL, a socket's descriptor read by reflection, NIO's allocator SPI), which a
        // minor release may change without notice. Raise the pins deliberately, with
        // docs/PRIVATE-APIS.md in hand and its tests run.
        .package(url: "https://github.com/apple/swift-nio.git", .upToNextMinor(from: "2.101.3")),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", .upToNextMinor(from: "2.37.6")),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // The browser gateway's tests talk to it with its WebSocket client (WSClient).
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // HTTP/1 ↔ HTTP types codec, for the gateway's own upgrade channel.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // Pure protocol: JSON, frames, the message model and validation. No I/O.
        .target(
            name: "ChatProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Per-frame deflate (feature "deflate"): zlib through compress-nio. No I/O.
        .target(
            name: "ChatCompression",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        // Storage contract shared by every backend.
        .target(
            name: "ChatStore",
            dependencies: ["ChatProtocol"],
            swiftSettings: strict
        ),
        // Embedded SQLite backend (GRDB, WAL).
        .target(
            name: "ChatStoreSQLite",
            dependencies: [
                "ChatStore", "ChatProtocol", .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C interface, for binding messages without boxing each value.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // PostgreSQL backend (postgres-nio): one store shared by several server nodes.
        .target(
            name: "ChatStorePostgres",
            dependencies: [
                "ChatStore", "ChatProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Certificates (local CA + server leaf) and NIOSSL contexts for both sides.
        .target(
            name: "ChatTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // Shared socket plumbing: getaddrinfo resolution.
        .target(
            name: "ChatNetworking",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChatServer",
            dependencies: [
                "ChatProtocol", "ChatStore", "ChatTLS", "ChatNetworking", "ChatCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // PBKDF2 for account passwords.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                // Counters and histograms, recorded into the factory the server is given.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The operators' HTTP listener (--http-port): health, readiness, Prometheus metrics;
        // the browser gateway adds its routes to the same listener.
        .target(
            name: "ChatOperations",
            dependencies: [
                "ChatServer", "ChatTLS", "ChatNetworking",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Chat from a browser (issue 19): the web client's files and the WebSocket gateway into
        // chat sessions, served by the operators' HTTP listener.
        .target(
            name: "ChatGateway",
            dependencies: [
                "ChatServer", "ChatOperations",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("Resources/index.html"),
                .embedInCode("Resources/app.js"),
                .embedInCode("Resources/app.css"),
                .embedInCode("Resources/icon.svg"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ChatClient",
            dependencies: [
                "ChatProtocol", "ChatTLS", "ChatNetworking", "ChatCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                // SHA-256 of files sent and fetched.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Child processes without Foundation.Process (posix_spawn, waitpid) and their /proc
        // figures: the benchmark's servers and load generator, the tests' servers.
        .target(
            name: "ChatProcess",
            dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: strict
        ),
        // Load generator and scenarios of `chatterbox bench` (docs/PERFORMANCE.md).
        .target(
            name: "ChatBench",
            dependencies: [
                "ChatProtocol", "ChatTLS", "ChatCompression", "ChatProcess",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // The system's ncursesw (wide-character curses), as irssi and WeeChat use it.
        // (No pkgConfig: its -D flags are refused by SwiftPM; the module map links the libraries.)
        .systemLibrary(
            name: "CNCurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The few POSIX pieces Swift cannot express safely: signal handlers, window size, wcwidth.
        .target(name: "CTerminalSupport"),
        // The full-screen terminal client on top of ChatClient.
        .target(
            name: "ChatTerminal",
            dependencies: ["ChatClient", "ChatProtocol", "CNCurses", "CTerminalSupport", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "chatterbox",
            dependencies: [
                "ChatServer", "ChatClient", "ChatTerminal", "ChatStoreSQLite", "ChatStorePostgres", "ChatTLS", "ChatProtocol", "ChatBench",
                "ChatCompression", "ChatOperations", "ChatGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // SIGHUP (reload).
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                // The configuration file (--config).
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatProtocolTests",
            dependencies: ["ChatProtocol", .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatCompressionTests",
            dependencies: ["ChatCompression", "ChatProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatStoreTests",
            dependencies: ["ChatStore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatStoreSQLiteTests",
            dependencies: [
                "ChatStoreSQLite", "ChatStore", "ChatProtocol",
                // TemporaryDirectory.
                "ChatTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatNetworkingTests",
            dependencies: ["ChatNetworking", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatProcessTests",
            dependencies: ["ChatProcess"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatBenchTests",
            dependencies: [
                "ChatBench", "ChatTLS", "ChatTestSupport",
                // The smoke test benchmarks the real executable.
                "chatterbox",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: [
                "ChatServer", "ChatClient", "ChatStore", "ChatStoreSQLite", "ChatStorePostgres", "ChatTLS", "ChatProtocol", "ChatTestSupport",
                "ChatCompression",
                // The stalled readers of OutboundBudgetTests (LoadGenerator).
                "ChatBench",
                // Built for the tests that run the real executable (crash recovery, data directory).
                "chatterbox",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatOperationsTests",
            dependencies: [
                "ChatOperations", "ChatServer", "ChatStore", "ChatStorePostgres", "ChatStoreSQLite", "ChatTestSupport", "ChatTLS", "ChatProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The tests of `chatterbox server --http-port` run the real executable.
                "chatterbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                // Real HTTP(S) requests to the listener.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatGatewayTests",
            dependencies: [
                "ChatGateway", "ChatOperations", "ChatServer", "ChatProtocol", "ChatTestSupport", "ChatTLS",
                // The browser test runs the real executable (Tests/Browser/web_client_test.py).
                "chatterbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatStorePostgresTests",
            dependencies: [
                "ChatStorePostgres", "ChatStore", "ChatProtocol",
                // The same scenarios against the embedded store, compared.
                "ChatStoreSQLite", "ChatTestSupport",
                // The client failing over between the nodes of a cluster.
                "ChatClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatTLSTests",
            dependencies: [
                "ChatTLS",
                // TestTiming and TestFailure for the bounded waits.
                "ChatTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatClientTests",
            dependencies: [
                "ChatClient", "ChatProtocol", "ChatTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChatTerminalTests",
            dependencies: [
                "ChatTerminal", "ChatClient", "ChatProtocol", "ChatTestSupport",
                // The end-to-end tests drive the real executable inside tmux.
                "chatterbox",
            ],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets: servers on loopback, raw protocol clients.
        .target(
            name: "ChatTestSupport",
            dependencies: [
                "ChatServer", "ChatClient", "ChatStore", "ChatStoreSQLite", "ChatStorePostgres", "ChatTLS", "ChatProtocol",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Spawn: child processes without Foundation.Process.
                "ChatProcess",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ChatTestSupport"
        ),
    ],
    swiftLanguageModes: [.v6]
)
