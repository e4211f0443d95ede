import ChatStore
import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Stops a query that runs past its time limit, or when the store closes, through SQLite's
/// progress handler: SQLite calls it every thousand virtual-machine steps, and a query it
/// answers "stop" ends with `SQLITE_INTERRUPT`. It bounds the work a query does row by row
/// (walking matches a user may not see, merging history branches) without touching other
/// connections (GRDB's `interrupt()` would stop every query, the writer's too).
///
/// Measured on a 200,000-message store: `w* w*`, which runs 1.6-2 s unchecked, stops after
/// 1.0-1.1 s with a 1 s limit and after 0.15-0.2 s with 100 ms (a single step can outlast the
/// limit: the check runs between steps).
final class QueryGuard: Sendable {
    /// Virtual-machine steps between two checks: a check reads the clock (tens of ns), and
    /// SQLite runs a thousand steps in a few microseconds.
    static let stepsPerCheck: Int32 = 1000

    private let gate: StoreGate
    private let limit: Duration?
    /// `DispatchTime` uptime in nanoseconds past which the query stops; 0 for none.
    private let deadline: UInt64
    private let timedOut = Atomic<Bool>(false)

    init(gate: StoreGate, limit: Duration?) {
        self.gate = gate
        self.limit = limit
        if let limit {
            let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
            deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(1, nanoseconds))
        } else {
            deadline = 0
        }
    }

    /// Whether the query should stop now.
    fileprivate func shouldStop() -> Bool {
        if gate.isClosing { return true }
        if deadline != 0, DispatchTime.now().uptimeNanoseconds >= deadline {
            timedOut.store(true, ordering: .relaxed)
            return true
        }
        return false
    }

    /// Runs `body` on `db` with this guard watching its statements; an interruption it caused
    /// is rethrown as ``StoreError``.
    func watch<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        guard let connection = db.sqliteConnection else { return try body() }
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_progress_handler(connection, Self.stepsPerCheck, { context in
            guard let context else { return 0 }
            return Unmanaged<QueryGuard>.fromOpaque(context).takeUnretainedValue().shouldStop() ? 1 : 0
        }, context)
        defer { sqlite3_progress_handler(connection, 0, nil, nil) }
        do {
            return try withExtendedLifetime(self) { try body() }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
            if timedOut.load(ordering: .relaxed), let limit { throw StoreError.timeLimitExceeded(limit) }
            if gate.isClosing { throw StoreError.closed }
            throw error
        }
    }
}
