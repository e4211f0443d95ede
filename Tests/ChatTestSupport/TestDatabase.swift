import ChatStore
public import ChatStorePostgres
import Foundation
public import Logging
public import PostgresNIO

/// A database of its own for each test, on the PostgreSQL server that
/// `CHATTERBOX_TEST_POSTGRES` names (`scripts/postgres.sh run swift test` starts a throwaway
/// one). Without it the tests fail, saying how to start one: they never skip.
public enum TestDatabase {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            """
            These tests need a PostgreSQL server: run them with `scripts/postgres.sh run swift test` \
            (it starts a throwaway one), or set CHATTERBOX_TEST_POSTGRES=postgres://USER:PASSWORD@HOST:PORT/DB \
            to a server where USER may create databases.
            """
        }
    }

    public static let logger = Logger(label: "chatterbox.tests.postgres")
    /// How long a test waits for the database: a whole suite starting at once on two loaded
    /// cores can hold a connection up for many seconds, which is not what the tests are about.
    public static let timeout = TestTiming.scaled(.seconds(120))

    /// The server the tests use, from the environment.
    public static func server() throws -> PostgresLocation {
        guard let url = ProcessInfo.processInfo.environment["CHATTERBOX_TEST_POSTGRES"], !url.isEmpty else { throw Missing() }
        return try PostgresLocation(url: url)
    }

    /// Creates an empty database, runs `body` with its location, and drops it.
    public static func withFreshDatabase<T: Sendable>(_ body: (PostgresLocation) async throws -> T) async throws -> T {
        let server = try server()
        let name = "chatterbox_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await withClient(server) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var location = server
        location.database = name
        return try await withTeardown { try await body(location) } teardown: { try await drop(name, on: server) }
    }

    /// Runs `body` with a prepared (migrated) store on a fresh database.
    public static func withStore<T: Sendable>(_ body: (PostgresChatStore) async throws -> T) async throws -> T {
        try await withFreshDatabase { location in
            try await withStore(at: location) { store in
                try await store.prepare(timeout: TestDatabase.timeout)
                return try await body(store)
            }
        }
    }

    /// Runs `body` with a store on `location` whose pool runs meanwhile.
    public static func withStore<T: Sendable>(at location: PostgresLocation, _ body: (PostgresChatStore) async throws -> T) async throws -> T {
        let store = PostgresChatStore(location: location, logger: logger)
        return try await withTeardown { try await body(store) } teardown: { await store.close() }
    }

    /// Runs `body` with a client of its own on `location`.
    @discardableResult
    public static func withClient<T: Sendable>(_ location: PostgresLocation, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: PostgresChatStore.clientConfiguration(location, maximumConnections: 4), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    private static func drop(_ name: String, on server: PostgresLocation) async throws {
        try await withClient(server) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}

/// Where a test server keeps its data: the embedded SQLite store or a PostgreSQL database, so
/// that the same test runs on both.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// Runs `body` with a way to open this backend's store for a server on a data directory:
    /// SQLite in it, or (every time) the same fresh, migrated PostgreSQL database, dropped
    /// afterwards.
    public func withStores<T: Sendable>(_ body: (@escaping @Sendable (String) throws -> any ChatStore) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            return try await body(TestServer.defaultStore)
        case .postgres:
            return try await TestDatabase.withFreshDatabase { location in
                try await TestDatabase.withStore(at: location) { try await $0.prepare(timeout: TestDatabase.timeout) }
                return try await body { _ in PostgresChatStore(location: location, logger: TestDatabase.logger).blocking(timeout: TestDatabase.timeout) }
            }
        }
    }
}
