import ChatStore
import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Follows the shared log for the hub, on a thread of its own, and keeps this server's place in
/// the cluster.
///
/// - Reads what any server committed after what was applied (woken by the store's
///   notifications and by this server's own commits, and every poll interval in case a
///   notification was lost) and has the hub apply it in order.
/// - Holds this server's own committed batches until the log has been applied up to their
///   messages, then delivers their replies (a command's answer never overtakes the messages
///   typed before it), or, for a batch the store refused, tells its senders.
/// - Renews this server's lease, and puts right what the log and this server disagree on (a
///   user online here that the store lost, after an outage; one the store still holds that left).
/// - Announces the users of servers whose lease ran out as gone, once this server has been in
///   touch with the store for a whole lease (after an outage every server renews first).
final class ClusterLink: Sendable {
    private struct Local {
        var batch: CommitPipeline.Batch
        /// The number of its last message; `nil` without messages.
        var lastSequence: Int64?
        var failed: Bool
    }

    private struct State {
        var local: [Local] = []
        var stopped = false
        var wakePending = false
        /// When the store last answered after failing (`nil`: failing now).
        var healthySince: ContinuousClock.Instant?
        /// Disagreements seen at the last renewal (acted on when seen twice: a claim or a leave
        /// may be on its way).
        var missingBefore: Set<String> = []
        var extraBefore: Set<String> = []
        var lastFailureLogged: ContinuousClock.Instant?
    }

    private let hub: Hub
    private let membership: ClusterMembership
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let wakeSignal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let listening = NIOLockedValueBox<(any LogListening)?>(nil)
    /// Entries read at a time.
    static let batchLimit = 1000

    init(hub: Hub, membership: ClusterMembership, logger: Logger) {
        self.hub = hub
        self.membership = membership
        self.logger = logger
    }

    func start() {
        listening.withLockedValue { $0 = membership.log.listen { [weak self] in self?.wake() } }
        let thread = Thread { [self] in run() }
        thread.name = "chatterbox-cluster"
        thread.start()
    }

    /// Stops following the log; returns once the thread has ended.
    func stop() async {
        listening.withLockedValue { $0?.stop() }
        let wasRunning = state.withLockedValue { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard wasRunning else { return }
        wakeSignal.signal()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.finished.wait()
                done.resume()
            }
        }
    }

    /// There may be something new in the log.
    func wake() {
        let signal = state.withLockedValue { state -> Bool in
            guard !state.wakePending else { return false }
            state.wakePending = true
            return true
        }
        if signal { wakeSignal.signal() }
    }

    /// This server's batches, as the commit pipeline stored them (its delivery, in a cluster).
    func committed(_ batches: [CommitPipeline.Batch], outcome: Result<[Int64], any Error>) {
        var numbers = (try? outcome.get())?.makeIterator()
        let failed = (try? outcome.get()) == nil
        if case .failure(let error) = outcome {
            logger.error("Store write failed, \(batches.reduce(0) { $0 + $1.messageCount }) messages not delivered: \(error)")
        }
        state.withLockedValue { state in
            for batch in batches {
                var last: Int64?
                for _ in 0..<batch.messageCount { last = numbers?.next() }
                state.local.append(Local(batch: batch, lastSequence: last, failed: failed))
            }
        }
        wake()
    }

    // MARK: - The thread

    private func run() {
        defer { finished.signal() }
        let settings = membership.settings
        let clock = ContinuousClock()
        var nextRenewal = clock.now
        var nextSweep = clock.now + settings.lease / 2
        while !state.withLockedValue({ $0.stopped }) {
            let now = clock.now
            if now >= nextRenewal {
                renew()
                nextRenewal = now + settings.lease / 3
            }
            if now >= nextSweep {
                expireLapsedNodes(now: now)
                nextSweep = now + settings.lease / 2
            }
            catchUp()
            let until = min(nextRenewal, nextSweep, clock.now + settings.pollInterval)
            let wait = until - clock.now
            if wait > .zero {
                _ = wakeSignal.wait(timeout: .now() + .nanoseconds(Int(wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000)))
            }
            state.withLockedValue { $0.wakePending = false }
        }
    }

    /// Applies what the log holds after what was applied, then delivers the local batches it
    /// has reached.
    private func catchUp() {
        do {
            while true {
                let applied = hub.state.withLockedValue { $0.lastDelivered }
                let entries = try membership.log.entries(after: applied, limit: Self.batchLimit)
                if let first = entries.first, first.sequence > applied + 1 {
                    // The log has no gaps, so entries were forgotten after this server's place:
                    // it was cut off longer than the log keeps them, and its state is stale.
                    fellBehind(applied: applied, next: first.sequence)
                    return
                }
                hub.applyLog(entries)
                deliverReachedBatches()
                if entries.count < Self.batchLimit { break }
            }
            markHealthy()
        } catch {
            failed("Reading the shared log failed", error)
            // What the store refused need not wait for the log to come back.
            deliverReachedBatches()
        }
    }

    /// Local batches whose messages the log has delivered (or that failed), in order.
    private func deliverReachedBatches() {
        let applied = hub.state.withLockedValue { $0.lastDelivered }
        let reached = state.withLockedValue { state -> [Local] in
            var count = 0
            for local in state.local {
                if !local.failed, let last = local.lastSequence, last > applied { break }
                count += 1
            }
            defer { state.local.removeFirst(count) }
            return Array(state.local.prefix(count))
        }
        for local in reached { hub.deliverLocal(local.batch, stored: !local.failed) }
    }

    private func renew() {
        let held: Set<String>
        do {
            let applied = hub.state.withLockedValue { $0.lastDelivered }
            held = try membership.log.renew(membership.node, lease: membership.settings.lease, applied: applied)
        } catch {
            failed("Renewing this server's lease failed", error)
            return
        }
        markHealthy()
        let here = hub.localUserKeys
        let (missing, extra) = state.withLockedValue { state -> (Set<String>, Set<String>) in
            let missingNow = here.subtracting(held)
            let extraNow = held.subtracting(here)
            defer {
                state.missingBefore = missingNow
                state.extraBefore = extraNow
            }
            return (missingNow.intersection(state.missingBefore), extraNow.intersection(state.extraBefore))
        }
        for key in missing { hub.reclaim(key: key) }
        if !extra.isEmpty { hub.releaseStale(keys: extra) }
    }

    private func expireLapsedNodes(now: ContinuousClock.Instant) {
        // Only after a whole lease in touch with the store: after an outage the others renew first.
        guard let since = state.withLockedValue({ $0.healthySince }), now - since >= membership.settings.lease else { return }
        do {
            let gone = try membership.log.expireLapsedNodes()
            if gone > 0 { logger.notice("\(gone) users of servers that stopped renewing their lease are gone") }
        } catch {
            failed("Expiring lapsed servers failed", error)
        }
    }

    /// This server missed entries of the log: it stops (gracefully, as on SIGTERM), saying why,
    /// for its supervisor to start it again with the state as it is now.
    private func fellBehind(applied: Int64, next: Int64) {
        logger.critical("This server was cut off from the shared store for longer than it keeps its log (\(SharedLogRetention.entries.components.seconds) s): entries \(applied + 1) to \(next - 1) are gone, so what it holds is stale. Stopping; start it again (a supervisor such as systemd with Restart=always does) and it loads the chat as it is now.")
        state.withLockedValue { $0.stopped = true }
        kill(getpid(), SIGTERM)
    }

    private func markHealthy() {
        let recovered = state.withLockedValue { state -> Bool in
            guard state.healthySince == nil else { return false }
            state.healthySince = ContinuousClock.now
            return state.lastFailureLogged != nil
        }
        if recovered { logger.notice("The shared store answers again") }
    }

    /// Logs a failure (at most every 10 s) and marks the store as failing.
    private func failed(_ what: String, _ error: any Error) {
        let log = state.withLockedValue { state -> Bool in
            state.healthySince = nil
            let now = ContinuousClock.now
            if let last = state.lastFailureLogged, now - last < .seconds(10) { return false }
            state.lastFailureLogged = now
            return true
        }
        if log { logger.error("\(what): \(error)") }
    }
}
