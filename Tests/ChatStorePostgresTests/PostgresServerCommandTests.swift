import ChatStorePostgres
import ChatTestSupport
import Foundation
import PostgresNIO
import Testing

/// `chatterbox server --store postgres://…` as an operator meets it: a database it cannot
/// reach, or one a newer build has migrated, is refused at start with a clear message that
/// never shows the password.
@Suite struct PostgresServerCommandTests {
    @Test func anUnreachableDatabaseIsRefusedWithoutShowingThePassword() async throws {
        let directory = TemporaryDirectory()
        // Port 1 on loopback: nothing listens there.
        let (status, output) = try await ServerProcess.runToExit([
            "server", "127.0.0.1", "-p", "0", "--data-dir", directory.path,
            "--store", "postgres://chat:hunter2-secret@127.0.0.1:1/chatterbox",
        ], timeout: .seconds(60))
        #expect(status == 1)
        #expect(output.contains("cannot use the database postgres://chat:***@127.0.0.1:1/chatterbox"), "\(output)")
        #expect(!output.contains("hunter2-secret"))
    }

    @Test func aBadStoreIsRefused() async throws {
        let directory = TemporaryDirectory()
        let (status, output) = try await ServerProcess.runToExit([
            "server", "127.0.0.1", "-p", "0", "--data-dir", directory.path, "--store", "mysql://chat:pw@db/chat",
        ])
        #expect(status != 0)
        #expect(output.contains("--store"), "\(output)")
        #expect(!output.contains("pw@"))
    }

    @Test func aSchemaNewerThanThisBuildIsRefused() async throws {
        try await TestDatabase.withFreshDatabase { location in
            try await TestDatabase.withStore(at: location) { store in
                try await store.prepare(timeout: TestDatabase.timeout)
                try await TestDatabase.withClient(location) { client in
                    try await client.query("INSERT INTO chatterbox_schema (version, name) VALUES (999, 'future')", logger: TestDatabase.logger)
                }
            }
            let directory = TemporaryDirectory()
            let url = try Self.url(of: location)
            let (status, output) = try await ServerProcess.runToExit([
                "server", "127.0.0.1", "-p", "0", "--data-dir", directory.path, "--store", url,
            ], timeout: .seconds(60))
            #expect(status == 1)
            #expect(output.contains("newer than this chatterbox knows"), "\(output)")
            if let password = location.password { #expect(!output.contains(password)) }
        }
    }

    /// The URL of `location`, password included (for the command line).
    static func url(of location: PostgresLocation) throws -> String {
        guard case .tcp(let host, let port) = location.endpoint else { throw TestFailure("expected a TCP database") }
        let password = location.password.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? ""
        return "postgres://\(location.username)\(password)@\(host):\(port)/\(location.database)"
    }
}
