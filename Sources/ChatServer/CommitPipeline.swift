import ChatStore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The server's ordered writer: the event loops hand it their batches, it commits them to the
/// store on a thread of its own, in the order they were handed over, and hands each back after
/// its commit for delivery.
///
/// Whatever is queued when the writer comes back from a commit goes into the next one together
/// (one transaction for several loops' batches), so a slow commit makes the next one bigger, not
/// later. The hub's lock is not held while it writes, and no event loop ever waits for a
/// network database: a slow one stalls deliveries, never the reading of frames.
///
/// With a store that commits locally (the embedded SQLite: a WAL append of microseconds), the
/// loop that hands over a batch while nothing is being committed commits it itself, as a group
/// commit's leader does, and delivers it; what others queue meanwhile goes to the writer's
/// thread. That spares the two thread hand-offs (to the writer and back to the loop) per batch
/// that otherwise cost more than the commit (docs/PERFORMANCE.md).
final class CommitPipeline: Sendable {
    /// What one event loop staged since its last hand-over, in the order staged.
    struct Batch: Sendable {
        var items: [GatherBatch.Item]
        /// When the first item was staged (deliveries gather from then).
        var openedAt: NIODeadline

        var messageCount: Int {
            items.reduce(0) { count, item in if case .message = item { count + 1 } else { count } }
        }
    }

    /// Hands committed batches back, in order, on the writer's thread: the numbers the store
    /// gave their messages (in the order the messages appear), or why nothing was stored.
    typealias Delivery = @Sendable (_ batches: [Batch], _ outcome: Result<[Int64], any Error>) -> Void

    private struct State {
        var queued: [Batch] = []
        /// Messages handed over and not yet delivered (queued or being committed).
        var backlog = 0
        var writing = false
        var closed = false
        /// Waiting for everything handed over so far to be delivered.
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let store: any ChatStore
    /// The writer: a thread that may block on the store (not an event loop).
    private let writer: NIOThreadPool
    private let state = NIOLockedValueBox(State())
    /// The callback, in a class of its own: a function value kept directly in a generic box is
    /// re-abstracted each time it is read out through `inout`, and each read wrapped it in two
    /// more thunks, for ever (CommitPipelineTests).
    private final class DeliveryTarget: Sendable {
        let deliver: Delivery
        init(_ deliver: @escaping Delivery) { self.deliver = deliver }
    }
    private let delivery = NIOLockedValueBox<DeliveryTarget?>(nil)
    private let metrics: ServerMetrics
    /// Whether the loop handing over a batch may commit it (``ChatStore/commitsLocally``).
    private let leadsOnCaller: Bool

    init(store: any ChatStore, metrics: ServerMetrics = .none) {
        self.store = store
        self.metrics = metrics
        leadsOnCaller = store.commitsLocally
        writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
    }

    deinit {
        // A hub that never started or stopped (a test's) leaves no thread behind; after
        // ``shutdown()`` this is a no-op.
        writer.shutdownGracefully { _ in }
    }

    /// Where committed batches go (the hub, which is made after the pipeline). Set once, before
    /// the first batch.
    func deliver(to delivery: @escaping Delivery) {
        let target = DeliveryTarget(delivery)
        self.delivery.withLockedValue { $0 = target }
    }

    /// Messages handed over and not yet delivered.
    var backlog: Int {
        state.withLockedValue { $0.backlog }
    }

    /// Queues `batch` behind everything handed over before it.
    func submit(_ batch: Batch) {
        let messages = batch.messageCount
        let startWriting = state.withLockedValue { state in
            state.queued.append(batch)
            state.backlog += messages
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        guard startWriting else { return }
        if leadsOnCaller {
            // One round here (this batch and whatever came with it); more is the writer's.
            write(rounds: 1)
        } else {
            writer.submit { _ in self.write() }
        }
    }

    /// Commits what is queued, delivers it, and again until nothing is (or `rounds` are done:
    /// then the writer's thread goes on).
    private func write(rounds: Int = .max) {
        let deliver = delivery.withLockedValue { $0 }
        var round = 0
        while true {
            let handOver = round == rounds
            round += 1
            let (batches, closed, idleWaiters, leftQueued) = state.withLockedValue { state in
                guard !state.queued.isEmpty else {
                    state.writing = false
                    defer { state.idleWaiters = [] }
                    return ([Batch](), state.closed, state.idleWaiters, false)
                }
                // More to commit than this thread may: left queued, still marked as writing.
                if handOver { return ([Batch](), state.closed, [], true) }
                defer { state.queued = [] }
                return (state.queued, state.closed, [], false)
            }
            if leftQueued {
                writer.submit { _ in self.write() }
                return
            }
            guard !batches.isEmpty else {
                for waiter in idleWaiters { waiter.resume() }
                return
            }
            var operations: [StoreOperation] = []
            operations.reserveCapacity(batches.reduce(0) { $0 + $1.items.count })
            for batch in batches {
                for item in batch.items {
                    switch item {
                    case .message(let message, _): operations.append(.message(message))
                    case .store(let operation): operations.append(operation)
                    case .reply: break
                    }
                }
            }
            let started = NIODeadline.now()
            let outcome: Result<[Int64], any Error> = closed ? .failure(StoreError.closed) : Result { try store.apply(operations) }
            let delivered = batches.reduce(0) { $0 + $1.messageCount }
            if !closed {
                metrics.commitDuration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
                metrics.commitOperations.record(operations.count)
                metrics.commitMessages.record(delivered)
            }
            if case .failure = outcome { metrics.storeErrors.increment() }
            deliver?.deliver(batches, outcome)
            state.withLockedValue { $0.backlog -= delivered }
        }
    }

    /// Returns once everything handed over so far has been committed (or refused) and delivered.
    func flush() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let idle = state.withLockedValue { state in
                guard state.writing || !state.queued.isEmpty else { return true }
                state.idleWaiters.append(waiter)
                return false
            }
            if idle { waiter.resume() }
        }
    }

    /// Commits nothing more: what is handed over from now on is refused as unstored
    /// (``StoreError/closed``). Returns once the commit under way, if any, is done.
    func close() async {
        state.withLockedValue { $0.closed = true }
        await flush()
    }

    /// Stops the writer's thread. After ``close()``.
    func shutdown() async {
        try? await writer.shutdownGracefully()
    }
}
