import Foundation
import GRDB

/// Checkpoints the store's write-ahead log in the background once a second, and keeps the
/// search index (``SearchIndex``) up to date, on a thread of its own at a lower priority than
/// the event loops: on a busy core it takes what they leave. PASSIVE checkpoints never block
/// the writer; the log file is reused once fully copied.
final class Checkpointer: Sendable {
    /// Rounds of 200 ms per second: the thread wakes every round, works on the second.
    static let roundsPerSecond = 5
    /// Nice levels below the server's threads (about a tenth of their share of a busy core,
    /// enough to keep up with checkpoints; idle cores it uses fully).
    static let niceIncrement: Int32 = 10
    private let queue: DatabaseQueue
    private let stopRequested = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(storePath: String) throws {
        var configuration = Configuration()
        configuration.label = "chatterbox.checkpointer"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try SearchIndex.attach(db, storePath: storePath)
            db.add(function: SearchIndex.searchWords)
        }
        queue = try DatabaseQueue(path: storePath, configuration: configuration)
        try queue.inTransaction(.deferred) { db in
            try SearchIndex.resetIfAhead(db)
            return .commit
        }
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "chatterbox-checkpoint"
        thread.start()
    }

    /// Indexes everything stored so far (a search's first step; usually a few messages).
    func catchUpSearchIndex() throws {
        _ = try index(limit: nil)
    }

    /// Stops the thread after a last, full checkpoint. Call once.
    func stop() {
        stopRequested.signal()
        finished.wait()
        try? queue.close()
    }

    private func index(limit: Int?) throws -> Int {
        var indexed = 0
        // DEFERRED: the transaction reads the messages and writes only the index's file.
        try queue.inTransaction(.deferred) { db in
            indexed = try SearchIndex.indexPending(db, limit: limit)
            return .commit
        }
        return indexed
    }

    private func run() {
        // On Linux a thread's nice value is its own (PRIO_PROCESS with 0 is the calling thread).
        let thisThread = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(thisThread, 0)
        if errno == 0 { setpriority(thisThread, 0, min(19, current + Self.niceIncrement)) }
        var round = 0
        var behind = false
        while true {
            let done = stopRequested.wait(timeout: .now() + .milliseconds(200)) == .success
            round += 1
            let onTheSecond = round % Self.roundsPerSecond == 0
            // Once a second; every round while a full batch leaves more behind (a sustained
            // rate above a batch a second must not leave the index ever further back).
            if onTheSecond || behind || done {
                let indexed = (try? index(limit: SearchIndex.batchLimit)) ?? 0
                behind = indexed >= SearchIndex.batchLimit
            }
            // Once a second too: a checkpoint costs two fsyncs (the log, then the database),
            // 3% of the server's CPU at 500 messages a second when it ran every round. The
            // last one on the way out copies everything and empties both log files.
            if onTheSecond || done {
                _ = try? queue.writeWithoutTransaction { db in
                    try db.checkpoint(done ? .truncate : .passive)
                    if done { try db.checkpoint(.truncate, on: "search") }
                }
            }
            if done { break }
        }
        finished.signal()
    }
}
