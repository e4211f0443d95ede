public import ChatStore
import ChatProtocol
import Foundation
import PostgresNIO

/// Several servers on one database: the log every node follows, who is online where, and the
/// leases that tell a node that stopped without saying so.
extension PostgresChatStore {
    /// Starts a run of `node`: records it with its lease, and announces as gone the users that
    /// the node's earlier runs left online (it stopped without saying so). Returns the last
    /// sequence number given.
    public func begin(_ node: NodeIdentity, lease: Duration) async throws -> Int64 {
        origin = node.incarnation
        let seconds = Self.seconds(lease)
        try await transaction { connection in
            try await connection.query("""
                INSERT INTO node (name, incarnation, lease_until) VALUES (\(node.name), \(node.incarnation), now() + make_interval(secs => \(seconds)))
                ON CONFLICT (name) DO UPDATE SET incarnation = excluded.incarnation, lease_until = excluded.lease_until, started_at = now()
                """, logger: logger)
            _ = try await announceGone(where: "node = $1 AND incarnation <> $2", [node.name, node.incarnation], connection)
        }
        return try await lastSequence()
    }

    /// Puts `user` online on `node` unless the name is online anywhere: the sequence number of
    /// the login (its `joined` entry), or `nil` when the name is taken.
    public func claim(_ user: KnownUser, on node: NodeIdentity) async throws -> Int64? {
        let key = UsernameRules.key(user.name)
        let logger = self.logger
        return try await transaction { connection -> Int64? in
            // The log's head last, as every commit takes it: rows first, then the head, so no
            // two transactions wait on each other in opposite orders (a commit that records
            // this very user holds its row until it has the head).
            var inserted = false
            for try await _ in try await connection.query("""
                INSERT INTO presence (key, name, node, incarnation) VALUES (\(key), \(user.name), \(node.name), \(node.incarnation))
                ON CONFLICT (key) DO NOTHING RETURNING key
                """, logger: logger) {
                inserted = true
            }
            // Taken: the transaction rolls back, the number with it.
            guard inserted else { throw NameTaken() }
            try await upsert(user, connection)
            let sequence = try await Self.takeSequenceNumbers(1, connection, logger: logger)
            let data = String(decoding: try JSONEncoder().encode(JoinedEvent(user: user, node: node)), as: UTF8.self)
            try await connection.query(
                "INSERT INTO event (seq, kind, origin, data) VALUES (\(sequence), 'joined', \(node.incarnation), \(data))", logger: logger)
            try await Self.notify(sequence, connection, logger: logger)
            return sequence
        } catchingNameTaken: {
            nil
        }
    }

    /// Renews `node`'s lease for `lease` from now, with how far it has applied the log; returns
    /// the keys of the users the database holds online for this run. Fails when another process
    /// has begun as the same node.
    public func renew(_ node: NodeIdentity, lease: Duration, applied: Int64) async throws -> Set<String> {
        let seconds = Self.seconds(lease)
        var renewed = false
        for try await _ in try await client.query("""
            UPDATE node SET lease_until = now() + make_interval(secs => \(seconds)), applied = GREATEST(applied, \(applied))
            WHERE name = \(node.name) AND incarnation = \(node.incarnation) RETURNING name
            """, logger: logger) {
            renewed = true
        }
        guard renewed else { throw NodeReplaced(node: node.name) }
        var keys: Set<String> = []
        for try await key in try await client.query(
            "SELECT key FROM presence WHERE incarnation = \(node.incarnation)", logger: logger
        ).decode(String.self) {
            keys.insert(key)
        }
        return keys
    }

    /// Announces as gone the users of every run whose lease has run out; returns how many.
    /// Then forgets the events every live node has applied that are older than the retention.
    public func expireLapsedNodes() async throws -> Int {
        let gone = try await transaction { connection in
            try await announceGone(
                where: "NOT EXISTS (SELECT 1 FROM node n WHERE n.incarnation = presence.incarnation AND n.lease_until > now())",
                [], connection)
        }
        try await pruneEvents(olderThan: SharedLogRetention.entries)
        return gone
    }

    /// Deletes the events older than `age` that every node with a live lease has applied.
    /// Returns how many. (Messages are the history, kept; a node that starts loads the state.)
    @discardableResult
    public func pruneEvents(olderThan age: Duration) async throws -> Int {
        var deleted = 0
        for try await _ in try await client.query("""
            DELETE FROM event WHERE at < now() - make_interval(secs => \(Self.seconds(age)))
              AND seq <= (SELECT COALESCE(min(applied), 0) FROM node WHERE lease_until > now())
            RETURNING seq
            """, logger: logger) {
            deleted += 1
        }
        return deleted
    }

    /// Deletes the presence rows `condition` selects (in a transaction that holds the log's
    /// head) and writes a `left` entry for each, with the user's stored record.
    private func announceGone(where condition: String, _ arguments: [String], _ connection: PostgresConnection) async throws -> Int {
        var bindings = PostgresBindings()
        for argument in arguments { bindings.append(argument) }
        var gone: [(key: String, node: String, incarnation: String)] = []
        for try await row in try await connection.query(
            PostgresQuery(unsafeSQL: "DELETE FROM presence WHERE \(condition) RETURNING key, node, incarnation", binds: bindings), logger: logger
        ).decode((String, String, String).self) {
            gone.append(row)
        }
        guard !gone.isEmpty else { return 0 }
        var users: [String: KnownUser] = [:]
        for try await row in try await connection.query("""
            SELECT key, name, delivered_through, address, last_seen, held_since, held_since_time FROM chat_user
            WHERE key = ANY(\(gone.map(\.key))::text[])
            """, logger: logger).decode((String, String, Int64, String?, Int64, Int64, Int64).self) {
            users[row.0] = KnownUser(name: row.1, deliveredThrough: row.2, address: row.3, lastSeen: row.4, heldSince: row.5, heldSinceTime: row.6)
        }
        let last = try await Self.takeSequenceNumbers(gone.count, connection, logger: logger)
        var sequence = last - Int64(gone.count)
        var events: [(Int64, StoreOperation)] = []
        for row in gone {
            sequence += 1
            let user = users[row.key] ?? KnownUser(name: row.key, deliveredThrough: 0)
            events.append((sequence, .left(user, node: NodeIdentity(name: row.node, incarnation: row.incarnation))))
        }
        try await Self.insertEvents(events, origin: origin, connection, logger: logger)
        try await Self.notify(last, connection, logger: logger)
        return gone.count
    }

    /// What was written after `sequence`, oldest first, at most `limit`.
    public func entries(after sequence: Int64, limit: Int) async throws -> [LogEntry] {
        let decoder = JSONDecoder()
        var entries: [LogEntry] = []
        let rows = try await client.query("""
            SELECT * FROM (
                (SELECT seq, 'message' AS kind, src, dest, timestamp, content, NULL::text AS origin, NULL::text AS data
                 FROM message WHERE seq > \(sequence) ORDER BY seq LIMIT \(limit))
                UNION ALL
                (SELECT seq, kind, NULL, NULL, NULL, NULL, origin, data FROM event WHERE seq > \(sequence) ORDER BY seq LIMIT \(limit))
            ) AS log ORDER BY seq LIMIT \(limit)
            """, logger: logger)
        for try await row in rows.decode((Int64, String, String?, String?, Int64?, ByteBuffer?, String?, String?).self) {
            let (entrySequence, kind, source, destination, timestamp, content, origin, data) = row
            switch kind {
            case "message":
                entries.append(.message(StoredMessage(
                    sequence: entrySequence,
                    message: ChatMessage(
                        source: source ?? "", destination: destination ?? "", timestamp: timestamp ?? 0,
                        content: content.map { String(buffer: $0) } ?? ""))))
            case "joined":
                let joined = try decoder.decode(JoinedEvent.self, from: Data((data ?? "").utf8))
                entries.append(.joined(sequence: entrySequence, joined.user, node: joined.node))
            default:
                let operation = try decoder.decode(StoreOperation.self, from: Data((data ?? "").utf8))
                entries.append(.operation(sequence: entrySequence, origin: origin ?? "", operation))
            }
        }
        return entries
    }

    /// Calls `wake` after every commit (by any node) and after the listening connection comes
    /// back; stops when the returned task is cancelled.
    public func listen(_ wake: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        let listener = PostgresLogListener(store: self)
        return Task { await listener.run { _ in wake() } }
    }

    /// Runs `body` in a transaction, unwrapping postgres-nio's transaction error. A
    /// transaction PostgreSQL chose to abort for a deadlock or a serialization conflict with
    /// another node's is run again (a few times): nothing of it was kept.
    func transaction<Value: Sendable>(_ body: (PostgresConnection) async throws -> sending Value) async throws -> Value {
        var attempt = 1
        while true {
            do {
                do {
                    return try await client.withTransaction(logger: logger, body)
                } catch let error as PostgresTransactionError {
                    throw error.closureError ?? error.commitError ?? error.beginError ?? error
                }
            } catch let error as PSQLError where attempt < Self.conflictAttempts && Self.isConflict(error) {
                logger.debug("Transaction aborted by a conflict with another (attempt \(attempt)); running it again")
                attempt += 1
            }
        }
    }

    /// How many times a transaction aborted by a conflict is tried in all.
    static let conflictAttempts = 4

    /// Whether PostgreSQL aborted the transaction for a deadlock (40P01) or a serialization
    /// failure (40001): safe to run again.
    static func isConflict(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// ``transaction(_:)`` whose body may throw ``NameTaken`` to roll back and answer `taken`.
    private func transaction<Value: Sendable>(
        _ body: (PostgresConnection) async throws -> sending Value, catchingNameTaken taken: () -> Value
    ) async throws -> Value {
        do {
            return try await transaction(body)
        } catch is NameTaken {
            return taken()
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Another process has begun as the same node (two servers started with one `--node` name).
public struct NodeReplaced: Error, CustomStringConvertible {
    public var node: String
    public var description: String {
        "another server has started as node \(node) on this database: give each server its own --node name"
    }
}

/// The name is online elsewhere (rolls a claim back).
struct NameTaken: Error {}

/// A `joined` entry's data.
struct JoinedEvent: Codable {
    var user: KnownUser
    var node: NodeIdentity
}

extension StoreOperation {
    /// The event table's `kind` of this operation.
    var kind: String {
        switch self {
        case .message: "message"
        case .user: "user"
        case .block: "block"
        case .unblock: "unblock"
        case .account: "account"
        case .file: "file"
        case .removeFile: "remove_file"
        case .forgetUser: "forget_user"
        case .left: "left"
        case .ban: "ban"
        case .unban: "unban"
        case .kick: "kick"
        case .announce: "announce"
        }
    }
}
