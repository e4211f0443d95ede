import ChatStore
import Foundation

/// The single writer to the store: changes queue up while a transaction runs and the next
/// transaction takes them all (group commit), so a burst costs one commit, not one per
/// message. After each commit it hands the group back, in order, to be delivered.
///
/// Markers ride in the same queue without being stored: they come back with their group, after
/// every change queued before them, which orders replies after the messages that preceded them.
final class StoreWriter<Marker: Sendable>: @unchecked Sendable {
    // @unchecked: `condition` guards every mutable property below; `store` is immutable and Sendable.

    enum Item: Sendable {
        case store(StoreOperation)
        case marker(Marker)
    }

    typealias CommitHandler = @Sendable (_ items: [Item], _ failure: (any Error)?) -> Void

    private let store: any ChatStore
    private let capacity: Int
    private let maximumGroupSize: Int
    private var commitHandler: CommitHandler?
    private let condition = NSCondition()
    private var pending: [Item] = []
    private var stopping = false
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    init(store: any ChatStore, capacity: Int, maximumGroupSize: Int = 4096) {
        self.store = store
        self.capacity = capacity
        self.maximumGroupSize = maximumGroupSize
    }

    /// Starts the writer thread; `onCommit` receives each group after its transaction, on
    /// that thread, with the error if the transaction failed.
    func start(onCommit: @escaping CommitHandler) {
        condition.lock()
        running = true
        commitHandler = onCommit
        condition.unlock()
        let thread = Thread { [self] in run() }
        thread.name = "chatterbox-store-writer"
        thread.start()
    }

    /// Queues a change; false when the queue is full (the store is not keeping up).
    func enqueue(_ operation: StoreOperation) -> Bool {
        enqueue(.store(operation))
    }

    /// Queues a marker behind everything queued so far; false when the queue is full.
    func enqueue(marker: Marker) -> Bool {
        enqueue(.marker(marker))
    }

    private func enqueue(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping, pending.count < capacity else { return false }
        pending.append(item)
        if pending.count == 1 { condition.signal() }
        return true
    }

    /// Commits everything queued, then stops the writer thread. Idempotent.
    func stop() {
        condition.lock()
        let wasRunning = running && !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if wasRunning { finished.wait() }
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty && stopping {
                condition.unlock()
                break
            }
            let group: [Item]
            let handler = commitHandler
            if pending.count <= maximumGroupSize {
                group = pending
                pending = []
            } else {
                group = Array(pending.prefix(maximumGroupSize))
                pending.removeFirst(maximumGroupSize)
            }
            condition.unlock()

            var failure: (any Error)?
            let operations = group.compactMap { item -> StoreOperation? in
                if case .store(let operation) = item { return operation }
                return nil
            }
            do {
                try store.apply(operations)
            } catch {
                failure = error
            }
            handler?(group, failure)
        }
        condition.lock()
        commitHandler = nil  // breaks the hub ↔ writer cycle
        condition.unlock()
        finished.signal()
    }
}
