import ChatStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What one round of housekeeping did.
public struct HousekeepingReport: Sendable, Equatable {
    /// Uploads abandoned after their idle timeout (their partial files removed).
    public var abandonedUploads = 0
    /// Stored files deleted when they expired.
    public var expiredFiles = 0
    /// Records of files whose bytes were gone, deleted.
    public var removedFileRecords = 0
    /// Users forgotten: never registered, unseen for the expiry time, nothing stored for them.
    public var forgottenUsers = 0

    public init() {}

    var isEmpty: Bool { self == HousekeepingReport() }
}

/// The server's periodic chores, every ``ServerConfiguration/housekeepingInterval`` and at
/// start: abandoned uploads, expired files, users nobody needs to remember. Runs on the
/// blocking pool (it deletes files and reads the store), never on an event loop; one round
/// at a time.
final class Housekeeping: Sendable {
    private let hub: Hub
    private let pool: NIOThreadPool
    private let logger: Logger
    private let task: NIOLockedValueBox<RepeatedTask?> = NIOLockedValueBox(nil)
    /// Serialises rounds: a round asked for while one runs waits for it.
    private let round = NIOLock()
    /// Records of files with no bytes, found at start, deleted by the first round.
    private let missingFiles: NIOLockedValueBox<[StoredFile]>

    init(hub: Hub, pool: NIOThreadPool, logger: Logger) {
        self.hub = hub
        self.pool = pool
        self.logger = logger
        missingFiles = NIOLockedValueBox(hub.fileShelf?.startReport.missingFiles ?? [])
    }

    /// Starts the rounds on `eventLoop`: the first at once, then every `interval`.
    func start(on eventLoop: any EventLoop, every interval: TimeAmount) {
        let scheduled = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
            pool.submit { state in
                guard state == .active else { return }
                _ = self.runRound()
            }
        }
        task.withLockedValue { $0 = scheduled }
    }

    func cancel() {
        task.withLockedValue { $0?.cancel() }
    }

    /// One round, now, on the pool; what it did.
    func run(on eventLoop: any EventLoop) -> EventLoopFuture<HousekeepingReport> {
        pool.runIfActive(eventLoop: eventLoop) { self.runRound() }
    }

    /// Most users one round forgets (each costs a read of the store): the rest wait for the next.
    static let usersForgottenPerRound = 1000

    /// One round on the calling thread (blocking).
    private func runRound() -> HousekeepingReport {
        round.withLock {
            var report = HousekeepingReport()
            var removals: [StoreOperation] = []
            let configuration = hub.configuration
            if let shelf = hub.fileShelf {
                report.abandonedUploads = shelf.abandonIdleUploads(timeout: configuration.uploadIdleTimeout)
                let missing = missingFiles.withLockedValue { missing in
                    defer { missing = [] }
                    return missing
                }
                report.removedFileRecords = missing.count
                removals += missing.map { .removeFile(id: $0.id) }
                if configuration.fileLifetime > .zero {
                    let lifetime = configuration.fileLifetime.nanoseconds / 1_000_000_000
                    let expired = shelf.expireFiles(storedAtOrBefore: configuration.clock.secondsSinceEpoch() - lifetime)
                    report.expiredFiles = expired.count
                    removals += expired.map { .removeFile(id: $0.id) }
                }
            }
            hub.stageMaintenance(removals)
            if configuration.forgetUsersAfter > .zero {
                // Never before the name's reservation ends: the row is the reservation.
                let after = max(configuration.forgetUsersAfter, configuration.nameReservation).nanoseconds / 1_000_000_000
                report.forgottenUsers = hub.forgetStaleUsers(
                    lastSeenAtMost: configuration.clock.secondsSinceEpoch() - after, limit: Self.usersForgottenPerRound)
            }
            if !report.isEmpty {
                logger.info("Housekeeping: \(report.abandonedUploads) idle uploads abandoned, \(report.expiredFiles) files expired, \(report.removedFileRecords) records of missing files removed, \(report.forgottenUsers) users forgotten")
            }
            return report
        }
    }
}
