import Logging
import PostgresNIO

/// The store's tables, as versioned migrations applied at start.
///
/// Every node runs ``migrate(_:logger:)`` when it starts; an advisory lock makes concurrent
/// starts take turns, each migration runs in the transaction that records it, and a node
/// refuses a database whose schema is newer than the migrations it knows (an older binary in a
/// rolling upgrade must not write to tables it does not understand).
enum PostgresSchema {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// The key of the advisory lock that serialises migrations across nodes ("chatterbox"
    /// in ASCII, truncated to 63 bits).
    static let migrationLock: Int64 = 0x63_68_61_74_74_65_72

    /// The broadcast key, `UsernameRules.key("ALL")`: a constant in the partial index, repeated
    /// word for word by the queries that use it.
    static let broadcastKey = "all"

    static let migrations: [Migration] = [
        Migration(version: 1, name: "initial", statements: [
            // The head of the log: the last sequence number given. Each committing transaction
            // takes its numbers by updating this one row, which it then holds locked until it
            // commits: transactions commit in the order of their numbers, so a node reading
            // `seq > last` never sees number 11 before number 10 and skips 10 for ever.
            """
            CREATE TABLE log_head (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                last_sequence bigint NOT NULL
            )
            """,
            "INSERT INTO log_head (last_sequence) VALUES (0)",
            // Contents are bytes: PostgreSQL's text cannot hold NUL, which JSON's \\u0000 can
            // put in a message. `search` holds the words as the search folds them (case,
            // accents), computed by the server (`SearchText`).
            """
            CREATE TABLE message (
                seq bigint PRIMARY KEY,
                src text NOT NULL,
                src_key text NOT NULL,
                dest text NOT NULL,
                dest_key text NOT NULL,
                timestamp bigint NOT NULL,
                content bytea NOT NULL,
                search tsvector NOT NULL
            )
            """,
            "CREATE INDEX message_by_dest ON message (dest_key, seq)",
            "CREATE INDEX message_direct_by_src ON message (src_key, seq) WHERE dest_key <> 'all'",
            "CREATE INDEX message_search ON message USING gin (search)",
            """
            CREATE TABLE chat_user (
                key text PRIMARY KEY,
                name text NOT NULL,
                delivered_through bigint NOT NULL,
                address text,
                last_seen bigint NOT NULL DEFAULT 0,
                held_since bigint NOT NULL DEFAULT 0,
                held_since_time bigint NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE block (
                blocker text NOT NULL,
                blocked text NOT NULL,
                PRIMARY KEY (blocker, blocked)
            )
            """,
            """
            CREATE TABLE account (
                key text PRIMARY KEY,
                password_hash text NOT NULL
            )
            """,
            """
            CREATE TABLE file (
                id text PRIMARY KEY,
                name text NOT NULL,
                size bigint NOT NULL,
                sha256 text NOT NULL,
                src text NOT NULL,
                src_key text NOT NULL,
                dest text NOT NULL,
                dest_key text NOT NULL,
                timestamp bigint NOT NULL
            )
            """,
        ]),
        // Several servers on one database: everything but messages in the log too (in the same
        // order), the servers and their leases, and who is online where.
        Migration(version: 2, name: "cluster", statements: [
            """
            CREATE TABLE event (
                seq bigint PRIMARY KEY,
                kind text NOT NULL,
                origin text NOT NULL,
                data text NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE node (
                name text PRIMARY KEY,
                incarnation text NOT NULL,
                lease_until timestamptz NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                -- How far the node has applied the log (at its last renewal): events every live
                -- node has applied may be forgotten.
                applied bigint NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE presence (
                key text PRIMARY KEY,
                name text NOT NULL,
                node text NOT NULL,
                incarnation text NOT NULL,
                since timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX presence_by_incarnation ON presence (incarnation)",
        ]),
        // Operators' bans of names and address ranges (every node reads them at start and
        // follows them in the log).
        Migration(version: 3, name: "bans", statements: [
            """
            CREATE TABLE ban (
                kind text NOT NULL,
                target text NOT NULL,
                display text NOT NULL,
                reason text NOT NULL,
                by_name text NOT NULL,
                since bigint NOT NULL,
                until_time bigint,
                PRIMARY KEY (kind, target)
            )
            """,
        ]),
    ]

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// A database whose schema is newer than this build knows.
    struct TooNew: Error, CustomStringConvertible {
        var found: Int
        var known: Int
        var description: String {
            "the database's schema is version \(found), newer than this chatterbox knows (\(known)): "
                + "it was upgraded by a newer chatterbox. Run that version (or newer) on every node."
        }
    }

    /// Applies the migrations the database lacks; returns the versions before and after.
    @discardableResult
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> (from: Int, to: Int) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS chatterbox_schema (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var current = 0
            for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM chatterbox_schema", logger: logger).decode(Int.self) {
                current = version
            }
            guard current <= latestVersion else { throw TooNew(found: current, known: latestVersion) }
            for migration in migrations where migration.version > current {
                logger.info("Migrating the PostgreSQL store to version \(migration.version) (\(migration.name))")
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO chatterbox_schema (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            }
            return (current, max(current, latestVersion))
        }
    }
}
