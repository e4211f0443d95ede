import ChatProtocol
import ChatStore
import GRDB
import GRDBSQLite

/// Stores messages through SQLite's own binding calls.
///
/// Through GRDB's arguments (`[any DatabaseValueConvertible]`, each value boxed, then cast back
/// with a conformance lookup) a commit of ten broadcasts spent more on the way to SQLite than in
/// it: at 50,000 deliveries/s the store took 13% of the server's CPU, a quarter of it building
/// arguments (docs/PERFORMANCE-HISTORY.md).
enum MessageWriter {
    static let insertSQL = "INSERT INTO message (seq, src, src_key, dest, dest_key, timestamp, content) VALUES (?, ?, ?, ?, ?, ?, ?)"

    /// Inserts `messages`, one prepared statement step each.
    static func insert(_ messages: some Collection<StoredMessage>, _ db: Database) throws {
        guard !messages.isEmpty else { return }
        let handle = try db.cachedStatement(sql: insertSQL).sqliteStatement
        sqlite3_reset(handle)
        for stored in messages {
            let message = stored.message
            sqlite3_bind_int64(handle, 1, stored.sequence)
            bind(message.source, at: 2, handle)
            bind(UsernameRules.key(message.source), at: 3, handle)
            bind(message.destination, at: 4, handle)
            bind(UsernameRules.key(message.destination), at: 5, handle)
            sqlite3_bind_int64(handle, 6, message.timestamp)
            bind(message.content, at: 7, handle)
            let code = sqlite3_step(handle)
            guard code == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                sqlite3_reset(handle)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: insertSQL)
            }
            sqlite3_reset(handle)
        }
        sqlite3_clear_bindings(handle)
    }

    /// Binds `text` by its byte count (a NUL inside does not cut it short); SQLite copies it.
    private static func bind(_ text: String, at index: Int32, _ handle: OpaquePointer) {
        var text = text
        text.withUTF8 { bytes in
            // A zero-length text still needs a non-null pointer, or SQLite binds NULL.
            let base = UnsafeRawPointer(bytes.baseAddress ?? ("" as StaticString).utf8Start)
            _ = sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
        }
    }

    /// `SQLITE_TRANSIENT` (a C macro Swift does not import): SQLite copies the bytes.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}
