public import ChatStore
import ChatProtocol
import Foundation
import NIOConcurrencyHelpers
public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
public import PostgresNIO

/// The shared store: one PostgreSQL database that several server nodes use at once.
///
/// The database gives every message its place in the one order of the chat (``commit(_:)``),
/// holds everything durable, and tells every node when there is something new
/// (`NOTIFY chatterbox_log` with the newest sequence number; see ``PostgresLogListener``).
///
/// Queries go through one pool of connections (postgres-nio's `PostgresClient`), which runs from
/// ``init(location:maximumConnections:eventLoopGroup:logger:)`` to ``close()``. Its API is
/// asynchronous; the server, which calls its stores from threads that may wait, uses
/// ``blocking``.
public final class PostgresChatStore: Sendable {
    /// The channel every commit notifies, with the newest sequence number as payload.
    public static let notificationChannel = "chatterbox_log"

    public let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    /// The pool's background work (`PostgresClient.run()`), until ``close()``.
    private let running: Task<Void, Never>
    /// The run (node incarnation) that writes, once a node has begun (``begin(_:lease:)``).
    private let originBox = NIOLockedValueBox("")
    var origin: String {
        get { originBox.withLockedValue { $0 } }
        set { originBox.withLockedValue { $0 = newValue } }
    }

    /// Prepares a pool of at most `maximumConnections` connections to `location`; nothing
    /// connects until ``run()``.
    public init(
        location: PostgresLocation,
        maximumConnections: Int = 8,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.location = location
        self.logger = logger
        let client = PostgresClient(
            configuration: Self.clientConfiguration(location, maximumConnections: maximumConnections),
            eventLoopGroup: eventLoopGroup,
            backgroundLogger: logger
        )
        self.client = client
        running = Task { await client.run() }
    }

    /// Stops the pool: queries under way fail, none can follow.
    public func close() async {
        running.cancel()
        await running.value
    }

    /// The pool's configuration for `location` (at most `maximumConnections` connections).
    public static func clientConfiguration(_ location: PostgresLocation, maximumConnections: Int) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration: PostgresClient.Configuration
        switch location.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: location.username, password: location.password, database: location.database, tls: tls)
        case .unixSocket(let directory, let port):
            configuration = .init(
                unixSocketPath: directory + "/.s.PGSQL.\(port)", username: location.username, password: location.password, database: location.database)
        }
        configuration.options.maximumConnections = max(2, maximumConnections)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
        return configuration
    }

    // MARK: - Start

    /// Brings the schema up to date; fails with ``PostgresSchema/TooNew`` (wrapped in a clear
    /// error) for a database a newer build has migrated.
    /// Gives up after `timeout` when the database does not answer.
    public func prepare(timeout: Duration = .seconds(15)) async throws {
        let (client, logger) = (self.client, self.logger)
        do {
            _ = try await withTimeLimit(timeout) { try await PostgresSchema.migrate(client, logger: logger) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    /// Everything the server holds in memory, as stored, as of one moment: the tables and the
    /// log's head are read in one snapshot (REPEATABLE READ), so that following the log from
    /// `lastSequence` misses nothing and applies nothing twice.
    public func load() async throws -> StoreSnapshot {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            var snapshot = StoreSnapshot()
            for try await row in try await connection.query("""
                SELECT name, delivered_through, address, last_seen, held_since, held_since_time FROM chat_user ORDER BY key
                """, logger: logger).decode((String, Int64, String?, Int64, Int64, Int64).self) {
                snapshot.users.append(KnownUser(
                    name: row.0, deliveredThrough: row.1, address: row.2, lastSeen: row.3, heldSince: row.4, heldSinceTime: row.5))
            }
            for try await (blocker, blocked) in try await connection.query("SELECT blocker, blocked FROM block", logger: logger)
                .decode((String, String).self) {
                snapshot.blocks.append(BlockRelation(blocker: blocker, blocked: blocked))
            }
            for try await value in try await connection.query("SELECT last_sequence FROM log_head", logger: logger).decode(Int64.self) {
                snapshot.lastSequence = value
            }
            for try await (key, hash) in try await connection.query("SELECT key, password_hash FROM account", logger: logger)
                .decode((String, String).self) {
                snapshot.accounts[key] = hash
            }
            for try await row in try await connection.query(
                "SELECT id, name, size, sha256, src, src_key, dest, dest_key, timestamp FROM file ORDER BY timestamp, id", logger: logger
            ).decode((String, String, Int64, String, String, String, String, String, Int64).self) {
                snapshot.files.append(StoredFile(
                    id: row.0, name: row.1, size: row.2, sha256: row.3, from: row.4, fromKey: row.5, to: row.6, toKey: row.7, time: row.8))
            }
            for try await (name, node, incarnation) in try await connection.query(
                "SELECT name, node, incarnation FROM presence ORDER BY key", logger: logger
            ).decode((String, String, String).self) {
                snapshot.online.append(OnlineUser(name: name, node: NodeIdentity(name: node, incarnation: incarnation)))
            }
            for try await row in try await connection.query(
                "SELECT kind, target, display, reason, by_name, since, until_time FROM ban ORDER BY since", logger: logger
            ).decode((String, String, String, String, String, Int64, Int64?).self) {
                guard let target = Ban.Target(kind: row.0, value: row.1) else { continue }
                snapshot.bans.append(Ban(target: target, display: row.2, reason: row.3, by: row.4, since: row.5, until: row.6))
            }
            return snapshot
        }
    }

    /// The last sequence number given (0 for an empty store).
    public func lastSequence() async throws -> Int64 {
        var last: Int64 = 0
        for try await value in try await client.query("SELECT last_sequence FROM log_head", logger: logger).decode(Int64.self) {
            last = value
        }
        return last
    }

    // MARK: - Writing

    /// Applies `operations` in one transaction. Every operation gets its place in the log here,
    /// in the order given, after every one committed before (by any node): messages in the
    /// message table, everything else also as an entry of the event table (so that the other
    /// nodes apply it too). Returns the numbers the messages got, in order.
    ///
    /// The numbers come from the one row of `log_head`, which the transaction holds locked
    /// until it commits, so commits become visible in the order of their numbers.
    public func commit(_ operations: [StoreOperation]) async throws -> [Int64] {
        guard !operations.isEmpty else { return [] }
        let origin = self.origin
        return try await transaction { connection in
                // Everything but the log first: the log's row stays locked for the shortest time.
                try await applyOthers(operations, connection)
                let last = try await Self.takeSequenceNumbers(operations.count, connection, logger: logger)
                var next = last - Int64(operations.count) + 1
                var messages: [ChatMessage] = [], messageSequences: [Int64] = []
                var events: [(Int64, StoreOperation)] = []
                for operation in operations {
                    if case .message(let message) = operation {
                        messages.append(message)
                        messageSequences.append(next)
                    } else {
                        events.append((next, operation))
                    }
                    next += 1
                }
                try await insert(messages, sequences: messageSequences, connection)
                try await Self.insertEvents(events, origin: origin, connection, logger: logger)
                try await Self.notify(last, connection, logger: logger)
                return messageSequences
        }
    }

    /// Takes `count` numbers of the log (locking its head until the transaction ends); the last.
    static func takeSequenceNumbers(_ count: Int, _ connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        var last: Int64 = 0
        for try await value in try await connection.query(
            "UPDATE log_head SET last_sequence = last_sequence + \(Int64(count)) RETURNING last_sequence", logger: logger
        ).decode(Int64.self) {
            last = value
        }
        return last
    }

    /// Tells every listening node that the log now reaches `sequence` (at the commit).
    static func notify(_ sequence: Int64, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(notificationChannel), \(String(sequence)))", logger: logger)
    }

    /// Event rows for `events` (operations other than messages, JSON), written by `origin`.
    static func insertEvents(_ events: [(Int64, StoreOperation)], origin: String, _ connection: PostgresConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        let encoder = JSONEncoder()
        var sequences: [Int64] = [], kinds: [String] = [], data: [String] = []
        for (sequence, operation) in events {
            sequences.append(sequence)
            kinds.append(operation.kind)
            data.append(String(decoding: try encoder.encode(operation), as: UTF8.self))
        }
        let origins = Array(repeating: origin, count: events.count)
        try await connection.query("""
            INSERT INTO event (seq, kind, origin, data)
            SELECT * FROM unnest(\(sequences)::bigint[], \(kinds)::text[], \(origins)::text[], \(data)::text[])
            """, logger: logger)
    }

    /// The messages of one commit in one statement: a row per element of the arrays.
    private func insert(_ messages: [ChatMessage], sequences: [Int64], _ connection: PostgresConnection) async throws {
        var sources: [String] = [], sourceKeys: [String] = [], destinations: [String] = [], destinationKeys: [String] = []
        var timestamps: [Int64] = [], contents: [ByteBuffer] = [], searchTexts: [String] = []
        for message in messages {
            sources.append(message.source)
            sourceKeys.append(UsernameRules.key(message.source))
            destinations.append(message.destination)
            destinationKeys.append(UsernameRules.key(message.destination))
            timestamps.append(message.timestamp)
            contents.append(ByteBuffer(string: message.content))
            searchTexts.append(SearchText.document(message.content))
        }
        try await connection.query("""
            INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content, search)
            SELECT seq, src, src_key, dest, dest_key, timestamp, content, to_tsvector('simple', search_text)
            FROM unnest(\(sequences)::bigint[], \(sources)::text[], \(sourceKeys)::text[], \(destinations)::text[],
                        \(destinationKeys)::text[], \(timestamps)::bigint[], \(contents)::bytea[], \(searchTexts)::text[])
                AS batch(seq, src, src_key, dest, dest_key, timestamp, content, search_text)
            """, logger: logger)
    }

    /// Records `user`: a later watermark, last sighting or holder wins, never an earlier one.
    func upsert(_ user: KnownUser, _ connection: PostgresConnection) async throws {
        let key = UsernameRules.key(user.name)
        try await connection.query("""
            INSERT INTO chat_user (key, name, delivered_through, address, last_seen, held_since, held_since_time)
            VALUES (\(key), \(user.name), \(user.deliveredThrough), \(user.address), \(user.lastSeen), \(user.heldSince), \(user.heldSinceTime))
            ON CONFLICT (key) DO UPDATE SET name = excluded.name,
                delivered_through = GREATEST(chat_user.delivered_through, excluded.delivered_through),
                address = COALESCE(excluded.address, chat_user.address),
                last_seen = GREATEST(chat_user.last_seen, excluded.last_seen),
                held_since = GREATEST(chat_user.held_since, excluded.held_since),
                held_since_time = GREATEST(chat_user.held_since_time, excluded.held_since_time)
            """, logger: logger)
    }

    /// Every operation but messages, in order.
    private func applyOthers(_ operations: [StoreOperation], _ connection: PostgresConnection) async throws {
        for operation in operations {
            switch operation {
            case .message:
                continue
            case .user(let user):
                try await upsert(user, connection)
            case .block(let relation):
                try await connection.query(
                    "INSERT INTO block (blocker, blocked) VALUES (\(relation.blocker), \(relation.blocked)) ON CONFLICT DO NOTHING", logger: logger)
            case .unblock(let relation):
                try await connection.query(
                    "DELETE FROM block WHERE blocker = \(relation.blocker) AND blocked = \(relation.blocked)", logger: logger)
            case .account(let key, let passwordHash?):
                try await connection.query("""
                    INSERT INTO account (key, password_hash) VALUES (\(key), \(passwordHash))
                    ON CONFLICT (key) DO UPDATE SET password_hash = excluded.password_hash
                    """, logger: logger)
            case .account(let key, nil):
                try await connection.query("DELETE FROM account WHERE key = \(key)", logger: logger)
            case .file(let file):
                try await connection.query("""
                    INSERT INTO file (id, name, size, sha256, src, src_key, dest, dest_key, timestamp)
                    VALUES (\(file.id), \(file.name), \(file.size), \(file.sha256), \(file.from), \(file.fromKey), \(file.to), \(file.toKey), \(file.time))
                    ON CONFLICT (id) DO UPDATE SET name = excluded.name, size = excluded.size, sha256 = excluded.sha256,
                        src = excluded.src, src_key = excluded.src_key, dest = excluded.dest, dest_key = excluded.dest_key,
                        timestamp = excluded.timestamp
                    """, logger: logger)
            case .left(let user, let node):
                try await connection.query(
                    "DELETE FROM presence WHERE key = \(UsernameRules.key(user.name)) AND incarnation = \(node.incarnation)", logger: logger)
                try await upsert(user, connection)
            case .removeFile(let id):
                try await connection.query("DELETE FROM file WHERE id = \(id)", logger: logger)
            case .forgetUser(let key, let lastSeenAtMost):
                // The conditions again, in the statement: the user may have come back, or
                // something may be waiting for them, since the server decided.
                try await connection.query("""
                    DELETE FROM chat_user u WHERE key = \(key) AND last_seen <= \(lastSeenAtMost)
                        AND NOT EXISTS (SELECT 1 FROM account WHERE account.key = u.key)
                        AND NOT EXISTS (SELECT 1 FROM block WHERE blocker = u.key OR blocked = u.key)
                        AND NOT EXISTS (SELECT 1 FROM file WHERE src_key = u.key OR dest_key = u.key)
                        AND NOT EXISTS (SELECT 1 FROM message WHERE dest_key = u.key
                            AND seq > GREATEST(u.delivered_through, u.held_since))
                    """, logger: logger)
            case .ban(let ban):
                try await connection.query("""
                    INSERT INTO ban (kind, target, display, reason, by_name, since, until_time)
                    VALUES (\(ban.target.kind), \(ban.target.value), \(ban.display), \(ban.reason), \(ban.by), \(ban.since), \(ban.until))
                    ON CONFLICT (kind, target) DO UPDATE SET display = excluded.display, reason = excluded.reason,
                        by_name = excluded.by_name, since = excluded.since, until_time = excluded.until_time
                    """, logger: logger)
            case .unban(let target):
                try await connection.query("DELETE FROM ban WHERE kind = \(target.kind) AND target = \(target.value)", logger: logger)
            case .kick, .announce:
                // Nothing but the log's entry: every node acts on it when it reads it.
                continue
            }
        }
    }

    // MARK: - Reading

    /// Messages after `sequence`, oldest first, at most `limit`: what a node has not delivered yet.
    public func messages(after sequence: Int64, limit: Int) async throws -> [StoredMessage] {
        try await fetchMessages("""
            SELECT seq, src, dest, timestamp, content FROM message WHERE seq > \(sequence) ORDER BY seq LIMIT \(limit)
            """)
    }

    /// Whether direct messages to `key` after sequence number `after` are stored.
    public func hasDirectMessages(to key: String, after: Int64) async throws -> Bool {
        var found = false
        for try await _ in try await client.query(
            "SELECT 1 FROM message WHERE dest_key = \(key) AND seq > \(after) LIMIT 1", logger: logger
        ) { found = true }
        return found
    }

    /// The newest `limit` broadcasts, oldest first.
    public func recentBroadcasts(limit: Int) async throws -> [StoredMessage] {
        try await fetchMessages("""
            SELECT seq, src, dest, timestamp, content FROM message WHERE dest_key = \(PostgresSchema.broadcastKey)
            ORDER BY seq DESC LIMIT \(limit)
            """).reversed()
    }

    /// The history a user gets at login (the same as ``SQLiteChatStore``'s).
    public func history(_ request: HistoryRequest) async throws -> History {
        let fetchLimit = request.limit + 1
        let excluded = request.excludedSenders.sorted()
        let windowed = request.recentBroadcasts?.newest(fetchLimit, through: request.throughSequence, excluding: request.excludedSenders)
        var recent = try await fetchMessages(visibleHistoryQuery(
            userKey: request.userKey, excluded: excluded, before: nil, through: request.throughSequence,
            directFloor: request.directMessagesAfter, broadcastLimit: windowed == nil ? fetchLimit : 0, limit: fetchLimit))
        if let windowed { recent = StoredMessage.mergedNewestFirst(recent, windowed, limit: fetchLimit) }
        let truncated = recent.count > request.limit
        if truncated { recent.removeLast() }
        recent.reverse()
        let oldestShown = recent.first?.sequence ?? Int64.max
        let waiting = try await fetchMessages("""
            SELECT seq, src, dest, timestamp, content FROM message
            WHERE dest_key = \(request.userKey) AND seq > \(max(request.pendingAfter, request.directMessagesAfter))
              AND seq <= \(request.throughSequence)
              AND src_key <> ALL(\(excluded)::text[])
            ORDER BY seq LIMIT \(request.pendingLimit)
            """)
        let older = waiting.filter { $0.sequence < oldestShown }
        return History(messages: older + recent, truncated: truncated, pendingCount: waiting.count, pageCursor: recent.first?.sequence)
    }

    /// A page of history or of search results (the same as ``SQLiteChatStore``'s).
    public func page(_ request: PageRequest) async throws -> Page {
        let fetchLimit = request.limit + 1
        let excluded = request.excludedSenders.sorted()
        var rows: [StoredMessage]
        if let words = request.words {
            guard let query = PostgresSearchQuery.make(words) else { return Page(messages: [], more: false) }
            // What the user may see, as in the login replay.
            rows = try await fetchMessages(timeLimit: request.timeLimit, """
                SELECT seq, src, dest, timestamp, content FROM message
                WHERE search @@ to_tsquery('simple', \(query)) AND seq < \(request.before) AND seq <= \(request.throughSequence)
                  AND ((dest_key IN (\(PostgresSchema.broadcastKey), \(request.userKey)) AND src_key <> ALL(\(excluded)::text[]))
                       OR (src_key = \(request.userKey) AND dest_key NOT IN (\(PostgresSchema.broadcastKey), \(request.userKey))))
                  AND (dest_key = \(PostgresSchema.broadcastKey) OR seq > \(request.directMessagesAfter))
                ORDER BY seq DESC LIMIT \(fetchLimit)
                """)
        } else {
            rows = try await fetchMessages(visibleHistoryQuery(
                userKey: request.userKey, excluded: excluded, before: request.before, through: request.throughSequence,
                directFloor: request.directMessagesAfter, broadcastLimit: fetchLimit, limit: fetchLimit))
        }
        let more = rows.count > request.limit
        if more { rows.removeLast() }
        return Page(messages: rows.reversed(), more: more)
    }

    /// The newest messages a user may see (newest first): broadcasts and direct messages to
    /// them (minus `excluded` senders), and their own direct messages; each branch walks its own
    /// index newest first and stops at its limit. Direct messages up to `directFloor` were the
    /// name's previous holder's and are left out.
    private func visibleHistoryQuery(
        userKey: String, excluded: [String], before: Int64?, through: Int64, directFloor: Int64, broadcastLimit: Int, limit: Int
    ) -> PostgresQuery {
        let before = before ?? Int64.max
        return """
            SELECT seq, src, dest, timestamp, content FROM (
                (SELECT * FROM message WHERE dest_key = \(PostgresSchema.broadcastKey) AND seq < \(before) AND seq <= \(through)
                   AND src_key <> ALL(\(excluded)::text[]) ORDER BY seq DESC LIMIT \(broadcastLimit))
                UNION ALL
                (SELECT * FROM message WHERE dest_key = \(userKey) AND seq > \(directFloor) AND seq < \(before) AND seq <= \(through)
                   AND src_key <> ALL(\(excluded)::text[]) ORDER BY seq DESC LIMIT \(limit))
                UNION ALL
                (SELECT * FROM message WHERE src_key = \(userKey) AND dest_key <> 'all' AND dest_key <> \(userKey)
                   AND seq > \(directFloor) AND seq < \(before) AND seq <= \(through) ORDER BY seq DESC LIMIT \(limit))
            ) AS visible ORDER BY seq DESC LIMIT \(limit)
            """
    }

    /// Messages from rows of `seq, src, dest, timestamp, content`. With a `timeLimit` the query
    /// runs in a transaction of its own whose statements the server stops past it
    /// (`statement_timeout`), and the limit is reported as ``StoreError/timeLimitExceeded(_:)``.
    private func fetchMessages(timeLimit: Duration? = nil, _ query: PostgresQuery) async throws -> [StoredMessage] {
        guard let timeLimit else {
            return try await Self.decodeMessages(try await client.query(query, logger: logger))
        }
        let milliseconds = max(1, Int(timeLimit.components.seconds * 1000 + timeLimit.components.attoseconds / 1_000_000_000_000_000))
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"), logger: logger)
                return try await Self.decodeMessages(try await connection.query(query, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            // 57014: query_canceled, which is what the statement timeout raises.
            if let cause = error.closureError as? PSQLError, cause.serverInfo?[.sqlState] == "57014" {
                throw StoreError.timeLimitExceeded(timeLimit)
            }
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    private static func decodeMessages(_ rows: PostgresRowSequence) async throws -> [StoredMessage] {
        var messages: [StoredMessage] = []
        for try await (sequence, source, destination, timestamp, content) in rows.decode((Int64, String, String, Int64, ByteBuffer).self) {
            messages.append(StoredMessage(
                sequence: sequence,
                message: ChatMessage(source: source, destination: destination, timestamp: timestamp, content: String(buffer: content))))
        }
        return messages
    }
}
