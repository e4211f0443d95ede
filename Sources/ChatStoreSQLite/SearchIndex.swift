import Foundation
import GRDB

/// The full-text index of message contents (FTS5), in a database file of its own next to the
/// store's (`<path>-search`), attached as `search` to the connections that read or index it.
///
/// A file of its own because indexing holds that file's write lock for milliseconds (tens when
/// FTS5 merges segments): in the store's file the hub's commits on the event loop waited for it
/// in SQLite's busy handler, and every message of that moment with them (stalls of 5-25 ms once
/// a second at 500 messages a second). Now only the indexer writes this file, and the hub never
/// opens it.
///
/// The index is derived data: missing, unreadable, or ahead of the message table (rows deleted
/// by hand, an older copy of the store put back), it is started afresh and rebuilt in the
/// background. It stores no text (a contentless FTS5 table); a search joins the message table.
enum SearchIndex {
    /// Where the index of the store at `storePath` lives.
    static func path(forStoreAt storePath: String) -> String {
        storePath + "-search"
    }

    /// The index's files: the database and its write-ahead log.
    static func files(forStoreAt storePath: String) -> [String] {
        let path = path(forStoreAt: storePath)
        return [path, path + "-wal", path + "-shm"]
    }

    /// Most messages indexed in one background transaction; searches catch up on the rest.
    /// With a batch every 200 ms while behind, up to 10,000 messages a second are indexed.
    static let batchLimit = 2000

    /// Creates the index's database if needed (WAL, tables). A damaged index (or a file that is
    /// not a database) is removed and created anew: it is rebuilt from the messages. Any other
    /// failure (a lock, permissions) is the caller's: the file may be someone else's to use.
    static func prepare(storePath: String) throws {
        do {
            try create(at: path(forStoreAt: storePath))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            for file in files(forStoreAt: storePath) {
                try? FileManager.default.removeItem(atPath: file)
            }
            try create(at: path(forStoreAt: storePath))
        }
    }

    private static func create(at path: String) throws {
        var configuration = Configuration()
        configuration.label = "chatterbox.search-setup"
        try SQLiteChatStore.createPrivately(at: path)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        try queue.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.inTransaction {
                try db.execute(sql: """
                    CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(
                        content, content='', tokenize='unicode61 remove_diacritics 2'
                    );
                    CREATE TABLE IF NOT EXISTS search_index (indexed_through INTEGER NOT NULL);
                    INSERT INTO search_index SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM search_index);
                    """)
                return .commit
            }
            // Reads every page of the index: a damaged file fails here, not in a search.
            let problems = try String.fetchAll(db, sql: "PRAGMA quick_check")
            guard problems == ["ok"] else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: problems.joined(separator: "; "))
            }
        }
    }

    /// Attaches the index to `db` as `search`.
    static func attach(_ db: Database, storePath: String) throws {
        try db.execute(sql: "ATTACH DATABASE ? AS search", arguments: [path(forStoreAt: storePath)])
    }

    /// Starts the index afresh when it claims messages the table does not have.
    static func resetIfAhead(_ db: Database) throws {
        let indexedThrough = try Int64.fetchOne(db, sql: "SELECT indexed_through FROM search.search_index") ?? 0
        let newest = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM main.message") ?? 0
        guard indexedThrough > newest else { return }
        try db.execute(sql: """
            INSERT INTO search.message_fts(message_fts) VALUES ('delete-all');
            UPDATE search.search_index SET indexed_through = 0;
            """)
    }

    /// Indexes up to `limit` messages not yet in the index (all of them for `nil`), oldest
    /// first, inside the caller's transaction, which must be DEFERRED so that it locks only the
    /// index's file for writing (it reads the messages). Returns how many.
    static func indexPending(_ db: Database, limit: Int?) throws -> Int {
        let indexedThrough = try Int64.fetchOne(db, sql: "SELECT indexed_through FROM search.search_index") ?? 0
        let newest = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM main.message") ?? 0
        guard newest > indexedThrough else { return 0 }
        let through: Int64
        if let limit {
            through = try Int64.fetchOne(db, sql: """
                SELECT MAX(seq) FROM (SELECT seq FROM main.message WHERE seq > ? ORDER BY seq LIMIT ?)
                """, arguments: [indexedThrough, limit]) ?? indexedThrough
        } else {
            through = newest
        }
        try db.execute(sql: """
            INSERT INTO search.message_fts(rowid, content)
            SELECT seq, content FROM main.message WHERE seq > ? AND seq <= ? ORDER BY seq
            """, arguments: [indexedThrough, through])
        try db.execute(sql: "UPDATE search.search_index SET indexed_through = ?", arguments: [through])
        return Int(through - indexedThrough)
    }
}
