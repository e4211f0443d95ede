import ChatProtocol
import GRDB

/// Rewrites the user keys stored before ``UsernameRules/key(_:)`` normalised names (NFC and
/// width mapping; before, a key was the name lowercased): `josé` typed precomposed and typed
/// with a combining accent were one user to the server's memory but two keys to SQLite, so
/// waiting direct messages, searches and blocks missed one spelling.
///
/// Rows whose keys now collide are one user, merged:
/// - users: one row, named as the most recently seen spelling (the higher delivery
///   watermark), with the lower watermark, so that direct messages one spelling missed are
///   offered again as waiting (at worst a few shown twice, none lost);
/// - accounts: the password of the most recently seen spelling's account is kept (both were
///   set by someone who had the name's password, since the server's memory already treated
///   the spellings as one user);
/// - blocks: the union, minus any block between the merged spellings themselves;
/// - messages and files: their sender and recipient keys rewritten.
///
/// Keys are compared here by their bytes, as SQLite compares them: Swift's `==` (and so a
/// `Set` or `Dictionary` of `String`) takes the two spellings for one string.
enum UserKeyMigration {
    /// A key as SQLite stores and compares it.
    private struct Bytes: Hashable {
        let utf8: [UInt8]
        let string: String
        init(_ string: String) {
            self.string = string
            utf8 = Array(string.utf8)
        }
        static func == (lhs: Bytes, rhs: Bytes) -> Bool { lhs.utf8 == rhs.utf8 }
        func hash(into hasher: inout Hasher) { hasher.combine(utf8) }
    }

    static func run(_ db: Database) throws {
        // Every key stored, from the tables where users are the rows and the indexed columns.
        var keys = Set<Bytes>()
        for sql in [
            "SELECT key FROM user", "SELECT key FROM account", "SELECT blocker FROM block", "SELECT blocked FROM block",
            "SELECT DISTINCT src_key FROM file", "SELECT DISTINCT dest_key FROM file", "SELECT DISTINCT dest_key FROM message",
            "SELECT DISTINCT src_key FROM message WHERE \(SQLiteChatStore.directOnly)",
        ] {
            keys.formUnion(try String.fetchAll(db, sql: sql).map(Bytes.init))
        }
        var renamed: [Bytes: Bytes] = [:]
        for key in keys {
            let normalised = Bytes(UsernameRules.key(key.string))
            if normalised != key { renamed[key] = normalised }
        }
        guard !renamed.isEmpty else { return }

        try db.execute(sql: "CREATE TEMP TABLE renamed_key (old TEXT PRIMARY KEY, new TEXT NOT NULL) WITHOUT ROWID")
        for (old, new) in renamed {
            try db.execute(sql: "INSERT INTO renamed_key (old, new) VALUES (?, ?)", arguments: [old.string, new.string])
        }
        // The one pass over the messages (a broadcast's sender is found by no index).
        for column in ["dest_key", "src_key"] {
            try db.execute(sql: """
                UPDATE message SET \(column) = (SELECT new FROM renamed_key WHERE old = message.\(column))
                WHERE \(column) IN (SELECT old FROM renamed_key)
                """)
        }
        for column in ["src_key", "dest_key"] {
            try db.execute(sql: """
                UPDATE file SET \(column) = (SELECT new FROM renamed_key WHERE old = file.\(column))
                WHERE \(column) IN (SELECT old FROM renamed_key)
                """)
        }
        try mergeUsers(db, renamed: renamed)
        try mergeBlocks(db, renamed: renamed)
        try db.execute(sql: "DROP TABLE renamed_key")
    }

    /// Users and accounts: one row per normalised key.
    private static func mergeUsers(_ db: Database, renamed: [Bytes: Bytes]) throws {
        struct Spelling {
            var key: Bytes
            var name: String
            var deliveredThrough: Int64
        }
        var groups: [Bytes: [Spelling]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, name, delivered_through FROM user") {
            let spelling = Spelling(key: Bytes(row[0]), name: row[1], deliveredThrough: row[2])
            groups[renamed[spelling.key] ?? spelling.key, default: []].append(spelling)
        }
        var accounts: [Bytes: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, password_hash FROM account") {
            accounts[Bytes(row[0])] = row[1]
        }
        for (key, spellings) in groups where spellings.count > 1 || spellings[0].key != key {
            // Most recently seen first; ties by key bytes, so that the result does not depend on order.
            let ordered = spellings.sorted {
                $0.deliveredThrough != $1.deliveredThrough
                    ? $0.deliveredThrough > $1.deliveredThrough
                    : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8)
            }
            let watermark = spellings.map(\.deliveredThrough).min()!
            let password = ordered.lazy.compactMap { accounts[$0.key] }.first ?? accounts[key]
            for spelling in spellings {
                try db.execute(sql: "DELETE FROM user WHERE key = ?", arguments: [spelling.key.string])
                try db.execute(sql: "DELETE FROM account WHERE key = ?", arguments: [spelling.key.string])
            }
            try db.execute(sql: "DELETE FROM account WHERE key = ?", arguments: [key.string])
            try db.execute(
                sql: "INSERT INTO user (key, name, delivered_through) VALUES (?, ?, ?)",
                arguments: [key.string, ordered[0].name, watermark])
            if let password {
                try db.execute(sql: "INSERT INTO account (key, password_hash) VALUES (?, ?)", arguments: [key.string, password])
            }
        }
        // Accounts of keys without a user row (not made by the server, but possible by hand).
        for (old, new) in renamed where accounts[old] != nil && groups[new] == nil {
            try db.execute(sql: "DELETE FROM account WHERE key = ?", arguments: [old.string])
            try db.execute(sql: "INSERT OR IGNORE INTO account (key, password_hash) VALUES (?, ?)", arguments: [new.string, accounts[old]!])
        }
    }

    /// Blocks: rewritten, duplicates folded, a merged user's block of itself dropped.
    private static func mergeBlocks(_ db: Database, renamed: [Bytes: Bytes]) throws {
        let affected = try Row.fetchAll(db, sql: """
            SELECT blocker, blocked FROM block
            WHERE blocker IN (SELECT old FROM renamed_key) OR blocked IN (SELECT old FROM renamed_key)
            """).map { (blocker: Bytes($0[0]), blocked: Bytes($0[1])) }
        for relation in affected {
            try db.execute(sql: "DELETE FROM block WHERE blocker = ? AND blocked = ?", arguments: [relation.blocker.string, relation.blocked.string])
        }
        for relation in affected {
            let blocker = renamed[relation.blocker] ?? relation.blocker
            let blocked = renamed[relation.blocked] ?? relation.blocked
            guard blocker != blocked else { continue }
            try db.execute(sql: "INSERT OR IGNORE INTO block (blocker, blocked) VALUES (?, ?)", arguments: [blocker.string, blocked.string])
        }
    }
}
