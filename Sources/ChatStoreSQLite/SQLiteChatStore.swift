import ChatProtocol
public import ChatStore
import Foundation
import GRDB
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Damage `PRAGMA quick_check` found in a database file.
public struct DatabaseDamage: Error, CustomStringConvertible {
    public var path: String
    /// SQLite's findings, at most 20.
    public var problems: [String]

    public var description: String {
        "the database \(path) is damaged: " + problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; ..." : "")
    }
}

/// The embedded store: one SQLite database in WAL mode, through GRDB.
///
/// Writes come from a single writer in groups (one transaction per group); reads (history at
/// login) run concurrently on their own connections.
public final class SQLiteChatStore: ChatStore {
    /// A file on this machine: a commit is a write to its WAL (see ``ChatStore/commitsLocally``).
    public var commitsLocally: Bool { true }

    /// How much a committed transaction survives.
    public enum Durability: Sendable {
        /// Survives a crash of the server process (`synchronous=NORMAL` in WAL mode). Default.
        case processCrash
        /// Also survives power loss or an OS crash (`synchronous=FULL`: an fsync per commit).
        case powerLoss
    }

    private let pool: DatabasePool
    /// Where the database file is.
    public let path: String
    /// Moves the write-ahead log into the database file from a thread of its own, so that no
    /// commit on an event loop waits for a checkpoint and its fsyncs.
    private let checkpointer: Checkpointer
    /// Admits calls until the store closes; closing waits for those under way.
    private let gate = StoreGate()
    /// The last sequence number given, once read (by the writer, in ``apply(_:)``).
    private let lastSequence = NIOLockedValueBox<Int64?>(nil)

    /// Opens (creating and migrating if needed) the database at `path`. A new database file is
    /// created readable by its owner only (0600); SQLite gives its log files the same mode.
    /// - Parameter maximumPageCount: caps the file's size in pages (SQLite's `max_page_count`);
    ///   writes beyond it fail as on a full disk. For tests of that failure.
    /// - Parameter checksIntegrity: reads every page first (`PRAGMA quick_check`) and throws
    ///   ``DatabaseDamage`` when any is damaged, instead of failing later, in the middle of
    ///   traffic or not at all. Costs a read of the whole file: for a server's start.
    public init(path: String, durability: Durability = .processCrash, maximumPageCount: Int? = nil, checksIntegrity: Bool = false) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "chatterbox"
        configuration.busyMode = .timeout(10)
        let synchronous = durability == .powerLoss ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            // Readers search, so they see the index; the writer does not open it (its BEGIN
            // IMMEDIATE would lock the index's file too, and wait for the indexer).
            if db.configuration.readonly {
                try SearchIndex.attach(db, storePath: path)
                return
            }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Checkpoints run on the checkpointer's own connection, never inside a commit.
            _ = try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint = 0")
            if let maximumPageCount {
                _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(maximumPageCount)")
            }
        }
        try Self.createPrivately(at: path)
        try SearchIndex.prepare(storePath: path)
        pool = try DatabasePool(path: path, configuration: configuration)
        if checksIntegrity {
            var problems: [String]
            do {
                problems = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA main.quick_check(20)") }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT {
                // Damage bad enough that the check itself cannot go on.
                problems = [error.message ?? "\(error)"]
            }
            if problems != ["ok"] {
                try? pool.close()
                throw DatabaseDamage(path: path, problems: problems)
            }
        }
        try Self.migrator.migrate(pool)
        checkpointer = try Checkpointer(storePath: path)
        checkpointer.start()
    }

    /// Creates an empty file at `path`, mode 0600, unless something is there already. SQLite
    /// would create it with the umask's mode (usually 0644: readable by every local user).
    static func createPrivately(at path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            Glibc.close(descriptor)
        } else if errno != EEXIST {
            throw DatabaseError(resultCode: .SQLITE_CANTOPEN, message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE message (
                    seq INTEGER PRIMARY KEY,
                    src TEXT NOT NULL,
                    src_key TEXT NOT NULL,
                    dest TEXT NOT NULL,
                    dest_key TEXT NOT NULL,
                    timestamp INTEGER NOT NULL,
                    content TEXT NOT NULL
                );
                CREATE INDEX message_by_dest ON message(dest_key, seq);
                CREATE INDEX message_by_src ON message(src_key, seq);
                CREATE TABLE user (
                    key TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    delivered_through INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE block (
                    blocker TEXT NOT NULL,
                    blocked TEXT NOT NULL,
                    PRIMARY KEY (blocker, blocked)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-accounts") { db in
            try db.execute(sql: """
                CREATE TABLE account (
                    key TEXT PRIMARY KEY,
                    password_hash TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        // Full-text search of message contents: an FTS5 index over the message table (external
        // content: the text is not stored twice), kept up to date by triggers.
        migrator.registerMigration("v3-search") { db in
            try db.execute(sql: """
                CREATE VIRTUAL TABLE message_fts USING fts5(
                    content, content='message', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
                    INSERT INTO message_fts(rowid, content) VALUES (new.seq, new.content);
                END;
                CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
                    INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.seq, old.content);
                END;
                INSERT INTO message_fts(message_fts) VALUES ('rebuild');
                """)
        }
        migrator.registerMigration("v4-files") { db in
            try db.execute(sql: """
                CREATE TABLE file (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    src TEXT NOT NULL,
                    src_key TEXT NOT NULL,
                    dest TEXT NOT NULL,
                    dest_key TEXT NOT NULL,
                    timestamp INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        // Indexing a message for search in the transaction that stores it cost four times the
        // insert itself (FTS5 writes a new index segment per transaction, and the hub commits
        // per event-loop tick). The index now trails the table: the indexer adds what is
        // new in batches, and a search first catches up, so results are the same.
        migrator.registerMigration("v5-deferred-search-index") { db in
            try db.execute(sql: """
                DROP TRIGGER message_fts_insert;
                DROP TRIGGER message_fts_delete;
                CREATE TABLE search_index (indexed_through INTEGER NOT NULL);
                INSERT INTO search_index VALUES ((SELECT COALESCE(MAX(seq), 0) FROM message));
                CREATE TRIGGER message_fts_delete AFTER DELETE ON message
                WHEN old.seq <= (SELECT indexed_through FROM search_index) BEGIN
                    INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.seq, old.content);
                END;
                """)
        }
        // Each broadcast added an entry to the sender index, a page of its own per sender: a
        // commit of ten senders' broadcasts wrote ten more 4 KiB pages to the log. Only direct
        // messages are looked up by sender (a user's own, for their history), so the index
        // now holds just those.
        migrator.registerMigration("v6-direct-messages-by-sender") { db in
            try db.execute(sql: """
                DROP INDEX message_by_src;
                CREATE INDEX message_direct_by_src ON message(src_key, seq) WHERE \(directOnly);
                """)
        }
        // The search index moves to a file of its own (`SearchIndex`), rebuilt there from the
        // messages in the background.
        migrator.registerMigration("v7-search-index-in-its-own-file") { db in
            try db.execute(sql: """
                DROP TRIGGER message_fts_delete;
                DROP TABLE main.message_fts;
                DROP TABLE main.search_index;
                """)
        }
        // User keys are normalised (NFC, width mapping): rows of one user under two
        // spellings are merged (UserKeyMigration says how).
        migrator.registerMigration("v8-user-keys-normalised") { db in
            try UserKeyMigration.run(db)
        }
        // Name reservations kept across restarts: where and when each name was last used, and
        // where its current holder began when an unregistered name passed to another address.
        migrator.registerMigration("v9-name-reservations") { db in
            try db.execute(sql: """
                ALTER TABLE user ADD COLUMN address TEXT;
                ALTER TABLE user ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE user ADD COLUMN held_since INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE user ADD COLUMN held_since_time INTEGER NOT NULL DEFAULT 0;
                """)
        }
        // Operators' bans of names and address ranges, kept across restarts.
        migrator.registerMigration("v10-bans") { db in
            try db.execute(sql: """
                CREATE TABLE ban (
                    kind TEXT NOT NULL,
                    target TEXT NOT NULL,
                    display TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    by_name TEXT NOT NULL,
                    since INTEGER NOT NULL,
                    until_time INTEGER,
                    PRIMARY KEY (kind, target)
                )
                """)
        }
        return migrator
    }

    /// For tests of migrations: creates a database at `path` migrated up to `migration` only,
    /// then runs `sql` in it (to plant rows as an older server stored them).
    static func makeDatabase(at path: String, migratedUpTo migration: String, then sql: String, arguments: [String] = []) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try migrator.migrate(queue, upTo: migration)
        try queue.write { db in try db.execute(sql: sql, arguments: StatementArguments(arguments)) }
    }

    /// The condition of `message_direct_by_src`, which a query must repeat word for word for
    /// SQLite to use that index. The broadcast key is a constant.
    static let directOnly = "dest_key <> '\(UsernameRules.key(ChatMessage.broadcastDestination))'"

    public func load() throws -> StoreSnapshot {
        try read { db in
            let users = try Row.fetchAll(db, sql: """
                SELECT name, delivered_through, address, last_seen, held_since, held_since_time FROM user ORDER BY key
                """).map {
                KnownUser(name: $0[0], deliveredThrough: $0[1], address: $0[2], lastSeen: $0[3], heldSince: $0[4], heldSinceTime: $0[5])
            }
            let blocks = try Row.fetchAll(db, sql: "SELECT blocker, blocked FROM block").map {
                BlockRelation(blocker: $0[0], blocked: $0[1])
            }
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM message") ?? 0
            var accounts: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, password_hash FROM account") {
                accounts[row[0]] = row[1]
            }
            let files = try Row.fetchAll(db, sql: "SELECT id, name, size, sha256, src, src_key, dest, dest_key, timestamp FROM file ORDER BY timestamp, id").map {
                StoredFile(id: $0[0], name: $0[1], size: $0[2], sha256: $0[3], from: $0[4], fromKey: $0[5], to: $0[6], toKey: $0[7], time: $0[8])
            }
            var snapshot = StoreSnapshot(users: users, blocks: blocks, lastSequence: last, accounts: accounts, files: files)
            snapshot.bans = try Row.fetchAll(db, sql: "SELECT kind, target, display, reason, by_name, since, until_time FROM ban ORDER BY since").compactMap { row in
                guard let target = Ban.Target(kind: row[0], value: row[1]) else { return nil }
                return Ban(target: target, display: row[2], reason: row[3], by: row[4], since: row[5], until: row[6])
            }
            return snapshot
        }
    }

    @discardableResult
    public func apply(_ operations: [StoreOperation]) throws -> [Int64] {
        guard !operations.isEmpty else { return [] }
        return try gate.pass { try pool.writeWithoutTransaction { db in
            // The writer is the only one to number messages: the last number is read once and
            // then counted here (read again after a failed commit, which numbered nothing).
            var next = try lastSequence.withLockedValue { cached in
                if let cached { return cached + 1 }
                return (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM message") ?? 0) + 1
            }
            var numbers: [Int64] = []
            do {
                try Self.inWriteTransaction(db) {
                    try apply(operations, numberingFrom: &next, into: &numbers, db)
                }
            } catch {
                lastSequence.withLockedValue { $0 = nil }
                throw error
            }
            lastSequence.withLockedValue { $0 = next - 1 }
            return numbers
        } }
    }

    /// The body of ``apply(_:)``'s transaction: messages numbered from `next` (counted up),
    /// their numbers appended to `numbers`.
    private func apply(_ operations: [StoreOperation], numberingFrom next: inout Int64, into numbers: inout [Int64], _ db: Database) throws {
        var messages: [StoredMessage] = []
        for operation in operations {
            if case .message(let message) = operation {
                messages.append(StoredMessage(sequence: next, message: message))
                numbers.append(next)
                next += 1
                continue
            }
            // Everything else in order, after the messages before it.
            try MessageWriter.insert(messages, db)
            messages.removeAll(keepingCapacity: true)
            switch operation {
            case .message:
                break
            case .user(let user), .left(let user, _):
                // One server alone has no shared presence: leaving records the user.
                try db.cachedStatement(sql: """
                    INSERT INTO user (key, name, delivered_through, address, last_seen, held_since, held_since_time)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(key) DO UPDATE SET name = excluded.name,
                        delivered_through = MAX(delivered_through, excluded.delivered_through),
                        address = COALESCE(excluded.address, address),
                        last_seen = MAX(last_seen, excluded.last_seen),
                        held_since = MAX(held_since, excluded.held_since),
                        held_since_time = MAX(held_since_time, excluded.held_since_time)
                    """).execute(arguments: [
                        UsernameRules.key(user.name), user.name, user.deliveredThrough, user.address, user.lastSeen,
                        user.heldSince, user.heldSinceTime,
                    ])
            case .block(let relation):
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO block (blocker, blocked) VALUES (?, ?)")
                    .execute(arguments: [relation.blocker, relation.blocked])
            case .unblock(let relation):
                try db.cachedStatement(sql: "DELETE FROM block WHERE blocker = ? AND blocked = ?")
                    .execute(arguments: [relation.blocker, relation.blocked])
            case .account(let key, let passwordHash?):
                try db.cachedStatement(sql: """
                    INSERT INTO account (key, password_hash) VALUES (?, ?)
                    ON CONFLICT(key) DO UPDATE SET password_hash = excluded.password_hash
                    """).execute(arguments: [key, passwordHash])
            case .account(let key, nil):
                try db.cachedStatement(sql: "DELETE FROM account WHERE key = ?").execute(arguments: [key])
            case .file(let file):
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO file (id, name, size, sha256, src, src_key, dest, dest_key, timestamp)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [file.id, file.name, file.size, file.sha256, file.from, file.fromKey, file.to, file.toKey, file.time])
            case .removeFile(let id):
                try db.cachedStatement(sql: "DELETE FROM file WHERE id = ?").execute(arguments: [id])
            case .forgetUser(let key, let lastSeenAtMost):
                try db.cachedStatement(sql: """
                    DELETE FROM user WHERE key = ? AND last_seen <= ?
                        AND NOT EXISTS (SELECT 1 FROM account WHERE account.key = user.key)
                        AND NOT EXISTS (SELECT 1 FROM block WHERE blocker = user.key OR blocked = user.key)
                        AND NOT EXISTS (SELECT 1 FROM file WHERE src_key = user.key OR dest_key = user.key)
                        AND NOT EXISTS (SELECT 1 FROM message WHERE dest_key = user.key
                            AND seq > MAX(user.delivered_through, user.held_since))
                    """).execute(arguments: [key, lastSeenAtMost])
            case .ban(let ban):
                try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO ban (kind, target, display, reason, by_name, since, until_time) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [ban.target.kind, ban.target.value, ban.display, ban.reason, ban.by, ban.since, ban.until])
            case .unban(let target):
                try db.cachedStatement(sql: "DELETE FROM ban WHERE kind = ? AND target = ?").execute(arguments: [target.kind, target.value])
            case .kick, .announce:
                // Nothing durable: a server on its own acts on these at once.
                break
            }
        }
        try MessageWriter.insert(messages, db)
    }

    /// Runs `body` in an IMMEDIATE transaction: committed when it returns, rolled back when it
    /// (or the commit) throws. BEGIN and COMMIT are prepared once, where GRDB's `inTransaction`
    /// parses them at every commit (a tenth of the store's CPU at 50,000 deliveries/s).
    private static func inWriteTransaction(_ db: Database, _ body: () throws -> Void) throws {
        try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
        do {
            try body()
            try db.cachedStatement(sql: "COMMIT").execute()
        } catch {
            // SQLite may already have rolled back (a full disk does); GRDB's rollback checks.
            try? db.rollback()
            throw error
        }
    }

    public func history(_ request: HistoryRequest) throws -> History {
        let broadcastKey = UsernameRules.key(ChatMessage.broadcastDestination)
        var exclusion = ""
        var excludedArguments: [String] = []
        if !request.excludedSenders.isEmpty {
            excludedArguments = request.excludedSenders.sorted()
            exclusion = " AND src_key NOT IN (" + excludedArguments.map { _ in "?" }.joined(separator: ",") + ")"
        }
        let visible = Self.visibleHistorySQL(exclusion: exclusion)
        let fetchLimit = request.limit + 1
        // Broadcasts from the server's window when it holds enough of them (the broadcast
        // branch then asks for none): at a login storm every login wants the same ones.
        let windowed = request.recentBroadcasts?.newest(fetchLimit, through: request.throughSequence, excluding: request.excludedSenders)
        let floor = request.directMessagesAfter
        var visibleArguments: [any DatabaseValueConvertible] = [broadcastKey, request.throughSequence]
        visibleArguments += excludedArguments as [any DatabaseValueConvertible]
        visibleArguments += [windowed == nil ? fetchLimit : 0, request.userKey, floor, request.throughSequence]
        visibleArguments += excludedArguments as [any DatabaseValueConvertible]
        visibleArguments += [fetchLimit, request.userKey, request.userKey, floor, request.throughSequence, fetchLimit, fetchLimit]

        let pending = """
            SELECT seq, src, dest, timestamp, CAST(content AS BLOB) FROM message
            WHERE dest_key = ? AND seq > ? AND seq <= ?\(exclusion)
            ORDER BY seq LIMIT ?
            """
        var pendingArguments: [any DatabaseValueConvertible] = [request.userKey, max(request.pendingAfter, floor), request.throughSequence]
        pendingArguments += excludedArguments as [any DatabaseValueConvertible]
        pendingArguments.append(request.pendingLimit)

        return try read { db in
            var recent = try Row.fetchAll(db, sql: visible, arguments: StatementArguments(visibleArguments)).map(Self.storedMessage)
            if let windowed { recent = StoredMessage.mergedNewestFirst(recent, windowed, limit: fetchLimit) }
            let truncated = recent.count > request.limit
            if truncated { recent.removeLast() }
            recent.reverse()
            let oldestShown = recent.first?.sequence ?? Int64.max
            let waiting = try Row.fetchAll(db, sql: pending, arguments: StatementArguments(pendingArguments)).map(Self.storedMessage)
            // Direct messages that arrived while away but fall outside the recent window come first.
            let older = waiting.filter { $0.sequence < oldestShown }
            return History(messages: older + recent, truncated: truncated, pendingCount: waiting.count, pageCursor: recent.first?.sequence)
        }
    }

    public func recentBroadcasts(limit: Int) throws -> [StoredMessage] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, src, dest, timestamp, CAST(content AS BLOB) FROM message WHERE dest_key = ? ORDER BY seq DESC LIMIT ?
                """, arguments: [UsernameRules.key(ChatMessage.broadcastDestination), limit]).map(Self.storedMessage).reversed()
        }
    }

    /// The newest messages a user may see within `bound` (a condition on `seq`): broadcasts
    /// and direct messages to them (minus `exclusion`, a condition on `src_key`), and their
    /// own direct messages. Each branch walks its own index newest first and stops at the
    /// limit, so the cost follows what the user can see, not the size of the whole history.
    /// Used by the login replay (`seq <= ?`) and by history pages (`seq < ? AND seq <= ?`).
    /// The direct-message branches also take a floor (`seq > ?`, before `bound`'s arguments):
    /// what the name received and sent before its current holder is not theirs.
    static func visibleHistorySQL(bound: String = "seq <= ?", exclusion: String) -> String {
        """
        SELECT seq, src, dest, timestamp, CAST(content AS BLOB) FROM (
            SELECT * FROM (SELECT * FROM message WHERE dest_key = ? AND \(bound)\(exclusion) ORDER BY seq DESC LIMIT ?)
            UNION ALL
            SELECT * FROM (SELECT * FROM message WHERE dest_key = ? AND seq > ? AND \(bound)\(exclusion) ORDER BY seq DESC LIMIT ?)
            UNION ALL
            SELECT * FROM (SELECT * FROM message WHERE src_key = ? AND \(directOnly) AND dest_key <> ? AND seq > ? AND \(bound) ORDER BY seq DESC LIMIT ?)
        ) ORDER BY seq DESC LIMIT ?
        """
    }

    /// The plan SQLite chooses for `sql` (the `detail` of each step), for tests of index use.
    func queryPlan(_ sql: String, arguments: [String]) throws -> [String] {
        try read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(arguments)).map { $0["detail"] }
        }
    }

    public func page(_ request: PageRequest) throws -> Page {
        let broadcastKey = UsernameRules.key(ChatMessage.broadcastDestination)
        let excluded = request.excludedSenders.sorted()
        let exclusion = excluded.isEmpty ? "" : " AND src_key NOT IN (" + excluded.map { _ in "?" }.joined(separator: ",") + ")"
        let fetchLimit = request.limit + 1
        let rows: [StoredMessage]
        if let words = request.words {
            guard let match = Self.ftsQuery(words) else { return Page(messages: [], more: false) }
            // What the user may see, as in the login replay: broadcasts and direct messages to
            // them (minus separated senders), and their own direct messages.
            let sql = """
                SELECT m.seq, m.src, m.dest, m.timestamp, CAST(m.content AS BLOB)
                FROM search.message_fts JOIN main.message m ON m.seq = message_fts.rowid
                WHERE message_fts MATCH ? AND message_fts.rowid < ? AND message_fts.rowid <= ?
                  AND ((m.dest_key IN (?, ?)\(exclusion)) OR (m.src_key = ? AND m.dest_key NOT IN (?, ?)))
                  AND (m.dest_key = ? OR m.seq > ?)
                ORDER BY message_fts.rowid DESC LIMIT ?
                """
            var arguments: [any DatabaseValueConvertible] = [match, request.before, request.throughSequence, broadcastKey, request.userKey]
            arguments += excluded as [any DatabaseValueConvertible]
            arguments += [request.userKey, broadcastKey, request.userKey, broadcastKey, request.directMessagesAfter, fetchLimit]
            // Everything stored so far becomes searchable first (usually a few messages).
            rows = try gate.pass {
                try checkpointer.catchUpSearchIndex()
                return try pool.read { db in
                    try QueryGuard(gate: gate, limit: request.timeLimit).watch(db) {
                        try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.storedMessage)
                    }
                }
            }
        } else {
            // The login replay's three index walks, below `before`.
            let sql = Self.visibleHistorySQL(bound: "seq < ? AND seq <= ?", exclusion: exclusion)
            let floor = request.directMessagesAfter
            var arguments: [any DatabaseValueConvertible] = [broadcastKey, request.before, request.throughSequence]
            arguments += excluded as [any DatabaseValueConvertible]
            arguments += [fetchLimit, request.userKey, floor, request.before, request.throughSequence]
            arguments += excluded as [any DatabaseValueConvertible]
            arguments += [fetchLimit, request.userKey, request.userKey, floor, request.before, request.throughSequence, fetchLimit, fetchLimit]
            rows = try read(timeLimit: request.timeLimit) { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.storedMessage)
            }
        }
        var messages = rows
        let more = messages.count > request.limit
        if more { messages.removeLast() }
        return Page(messages: messages.reversed(), more: more)
    }

    /// The FTS5 expression for words that must all appear: each word as the quoted phrase of
    /// ``SearchText``'s words it holds (so nothing in it is FTS5 syntax), a trailing `*` making
    /// the phrase's last word a prefix. `nil` for none.
    static func ftsQuery(_ words: [String]) -> String? {
        let terms = SearchText.phrases(words).map { phrase in
            "\"" + phrase.words.joined(separator: " ") + "\"" + (phrase.prefix ? " *" : "")
        }
        return terms.isEmpty ? nil : terms.joined(separator: " AND ")
    }

    /// The newest message sequence number in the search index (it trails what is stored).
    public func searchIndexedThrough() throws -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT indexed_through FROM search.search_index") ?? 0 }
    }

    public func hasDirectMessages(to key: String, after: Int64) throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM message WHERE dest_key = ? AND seq > ?)", arguments: [key, after]) ?? true
        }
    }

    /// SQLite's own consistency check: `["ok"]` for a sound database, otherwise the problems.
    public func integrityCheck() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// SQLite's quicker check (`PRAGMA quick_check`: no index contents compared): `["ok"]` for
    /// a sound database, otherwise the problems.
    public func quickCheck() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
    }

    public func close() throws {
        // Reads under way stop (their progress handler sees the gate closing), writes finish;
        // only then do the indexer and the connections close.
        guard gate.close() else { return }
        checkpointer.stop()
        try pool.close()
    }

    /// A read through the gate, stopped when the store closes or after `timeLimit`.
    private func read<T>(timeLimit: Duration? = nil, _ body: (Database) throws -> T) throws -> T {
        try gate.pass {
            try pool.read { db in
                try QueryGuard(gate: gate, limit: timeLimit).watch(db) { try body(db) }
            }
        }
    }

    /// A message from a row of `seq, src, dest, timestamp, CAST(content AS BLOB)`. The content
    /// is read as bytes: as text, GRDB would stop at a NUL, which JSON's "\u0000" can put there.
    private static func storedMessage(_ row: Row) -> StoredMessage {
        let content: Data = row[4] ?? Data()
        return StoredMessage(
            sequence: row[0],
            message: ChatMessage(source: row[1], destination: row[2], timestamp: row[3], content: String(decoding: content, as: UTF8.self))
        )
    }
}
