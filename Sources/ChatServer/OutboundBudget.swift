#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import Synchronization

/// The server-wide budget for bytes queued to clients that read slower than they are sent to.
///
/// Why: each connection's queue had a cap (8 MiB) but nothing bounded their sum: 200 clients
/// that never read, beside a few senders of 64 KiB broadcasts, took the server from 42 MB to
/// 1.8 GB. Now the queues together are kept under half the budget (``bound``): the other half
/// is for the server's own memory and what the allocator holds, so that the whole process
/// stays under the budget. The cap of a connection that does not read shrinks as the queues
/// fill the bound: it holds whole (``perConnection``) until a quarter of the budget is used,
/// then falls steadily to the smallest cap (``minimumCap``, 64 KiB: one large message) at
/// half. As the queues of readers that stopped grow together, the longest passes the
/// shrinking cap first and is cut first. A connection whose peer has read lately (see
/// ``OutboundBacklog/hasDrained(now:)``) keeps its whole cap: a reader behind for a moment on a busy server is not cut in place of the ones that
/// never read. Should the queues still exceed the bound, each event loop cuts its longest
/// until they fit, those whose peer has not read lately first.
///
/// The accounting costs nothing on the path of a delivery the socket takes at once, which is
/// nearly all of them. Only queues past ``trackingThreshold`` (where NIO marks the channel
/// unwritable) are counted, by ``OutboundBacklog`` in each connection's pipeline, into a
/// counter per event loop that only that loop writes; the sum is read from those counters
/// (an atomic load per loop), with no lock shared by the loops.
final class OutboundBudget: Sendable {
    /// The budget: the queues stay under half of it (``bound``).
    let limit: Int
    /// Most bytes queued for one client while the budget is mostly free.
    let perConnection: Int
    /// Queues up to this size are not counted and never cut: NIO's high watermark for the
    /// channel (the low one is a quarter of it).
    let trackingThreshold: Int
    /// The cap once the queues fill half the budget.
    let minimumCap: Int
    /// Most bytes queued in all: half the budget, or less when the rest of the process and an
    /// eighth kept free would take more than the other half (see ``noteResidentMemory(_:)``),
    /// but never under an eighth.
    var bound: Int {
        let other = otherMemory.load(ordering: .relaxed)
        // An eighth is left for what grows between two readings (with a sixteenth the soak's
        // peak came within 3 MiB of the budget).
        return max(limit / 8, min(limit / 2, limit - other - limit / 8))
    }

    /// Bytes queued on one event loop's connections, written by that loop only.
    private final class LoopCounter: Sendable {
        let queued = Atomic<Int>(0)
    }

    private let counters: [LoopCounter]
    /// What the process held besides the counted queues at the last measurement.
    private let otherMemory = Atomic<Int>(0)
    private let freed = Atomic<Int>(0)
    private let highWater = Atomic<Int>(0)
    private let ledgers: [ObjectIdentifier: NIOLoopBoundBox<LoopBacklogs>]

    init(limit: Int, perConnection: Int, eventLoops: [any EventLoop]) {
        self.limit = max(1, limit)
        self.perConnection = perConnection
        self.trackingThreshold = Self.trackingThreshold(forPerConnection: perConnection)
        self.minimumCap = max(trackingThreshold, min(64 * 1024, perConnection / 8))
        let counters = eventLoops.map { _ in LoopCounter() }
        self.counters = counters
        var ledgers: [ObjectIdentifier: NIOLoopBoundBox<LoopBacklogs>] = [:]
        for (index, loop) in eventLoops.enumerated() {
            // Made here, off the loop, and used only on it.
            ledgers[ObjectIdentifier(loop)] = .makeBoxSendingValue(LoopBacklogs(eventLoop: loop, index: index), eventLoop: loop)
        }
        self.ledgers = ledgers
    }

    /// NIO's high watermark for a connection whose queue may grow to `perConnection`.
    static func trackingThreshold(forPerConnection perConnection: Int) -> Int {
        max(1024, min(16 * 1024, perConnection / 4))
    }

    /// The connections of `eventLoop` whose queues are counted (on that loop only).
    func backlogs(on eventLoop: any EventLoop) -> LoopBacklogs {
        ledgers[ObjectIdentifier(eventLoop)]!.value
    }

    /// Bytes queued for all clients now (as last counted on each loop).
    var queuedBytes: Int {
        counters.reduce(0) { $0 + $1.queued.load(ordering: .relaxed) }
    }

    /// Bytes let go of since the start: the queues of connections that closed (cut, or gone)
    /// while counted. The memory trimmer gives them back to the system while the server stays
    /// busy; queues that drain are freed bit by bit, as any write, and left to the allocator.
    var freedBytes: Int { freed.load(ordering: .relaxed) }

    /// The most one connection may have queued now.
    var currentCap: Int { cap(forQueued: queuedBytes) }

    /// The most one connection may have queued while `queued` bytes are queued in all: the
    /// whole cap up to half the ``bound``, falling steadily to ``minimumCap`` at the bound.
    func cap(forQueued queued: Int) -> Int {
        let fill = Double(queued) / Double(bound)
        guard fill > 0.5 else { return perConnection }
        let shrunk = Double(perConnection) * 2 * (1 - fill)
        return min(perConnection, max(minimumCap, Int(shrunk)))
    }

    /// Takes the process's resident memory, measured now, into account: what it holds besides
    /// the queues (the connections' buffers, the history window, the allocator's free pages,
    /// the queues' own overhead) is left out of the budget before the queues get their share.
    ///
    /// Why: with the queues alone kept under half the budget, the whole process reached
    /// 286 MiB against a budget of 256 under the mixed-attack soak (SECURITY.md): the rest of
    /// the process took more than the other half. Counting it, the queues' bound shrinks as
    /// the rest grows, and the slow readers' caps with it.
    func noteResidentMemory(_ resident: Int) {
        otherMemory.store(max(0, resident - queuedBytes), ordering: .relaxed)
    }

    func publish(_ queued: Int, loop index: Int) {
        counters[index].queued.store(queued, ordering: .relaxed)
        // Only slow readers' queues are published: rare enough to sum the loops here.
        let total = queuedBytes
        var seen = highWater.load(ordering: .relaxed)
        while total > seen {
            let (exchanged, original) = highWater.compareExchange(expected: seen, desired: total, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    /// The most bytes queued for all clients together since the start.
    var queuedBytesHighWater: Int { highWater.load(ordering: .relaxed) }

    func noteFreed(_ bytes: Int) {
        freed.add(bytes, ordering: .relaxed)
    }

    /// An eighth of the memory the server may use: the machine's, or its cgroup's limit when
    /// lower. The rest is for the connections themselves, the history window and the system.
    static var defaultLimit: Int {
        var memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let cgroup = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), cgroup > 0 {
            memory = min(memory, cgroup)
        }
        return max(64 << 20, memory / 8)
    }
}
