import NIOCore

/// Counts what waits in one connection's outbound queue against the ``OutboundBudget``, and
/// cuts the connection when that is more than the budget allows it now.
///
/// It sits right above the channel's head (below TLS), so it sees exactly the bytes that go
/// into NIO's queue; deliveries the socket takes at once never pass it (the TLS handler sends
/// them itself). It counts only while NIO says the channel is unwritable (its queue passed
/// the budget's tracking threshold): then after every flush, on its loop's periodic check,
/// and when the queue drains, it reads the queue's size, weighs it by what the buffers that
/// hold it cost, and hands the difference to its loop's ``LoopBacklogs``. It also notes when
/// the queue last drained (the peer read something): see ``hasDrained(now:)``.
///
/// A connection over its cap is closed at once, without the TLS goodbye: a peer that does
/// not read would not see it, and its queue's memory is freed now rather than after the
/// goodbye's timeout. The session above hears of it first (``Cut``) and says why in its log.
final class OutboundBacklog: ChannelDuplexHandler, PassesWritesThrough {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Fired up the pipeline before the connection is closed for its queue.
    struct Cut: Sendable {
        /// The cap the queue passed, in bytes.
        var cap: Int
    }

    /// How recently a queue must have drained for its connection to count as read.
    static let drainWindow: TimeAmount = .seconds(1)

    let budget: OutboundBudget
    private let backlogs: LoopBacklogs
    private var context: ChannelHandlerContext?
    /// Whether the queue is counted (the channel is unwritable, or was when last checked).
    private(set) var isTracked = false
    /// The memory the queue held when last read.
    private(set) var queued = 0
    private var isCut = false
    /// The bytes of the buffers passed down, and the capacity of those buffers: NIO rounds
    /// every buffer up to a power of two, so a queued byte costs up to two in memory (1.6 on
    /// average, measured with 60 KB broadcasts), and the queue is counted at that cost.
    private var passedBytes = 0
    private var passedCapacity = 0
    /// All bytes passed down (wrapping), and their count and the queue's size in bytes when
    /// last read: what left the queue in between was written to the socket.
    private var passedTotal = 0
    private var passedTotalAtCheck = 0
    private var bufferedAtCheck = 0
    /// When the queue last drained.
    var lastDrained = NIODeadline.distantPast
    /// Bytes (as counted) the queue may hold whatever the budget's fill, until the peer first
    /// reads or ``allowanceWindow`` passes: its login replay, written in one go before it could
    /// read any. Without it, a login while stalled readers filled the budget was cut at once
    /// for its own replay; without its end, a reader that never reads kept its replay queued.
    private var allowanceBytes = 0
    private var allowanceEnds = NIODeadline.distantPast

    /// How long a burst's allowance lasts if the peer reads nothing.
    static let allowanceWindow: TimeAmount = .seconds(3)

    /// What the queue may hold now whatever the budget's fill.
    func allowance(now: NIODeadline) -> Int {
        now < allowanceEnds ? allowanceBytes : 0
    }

    init(budget: OutboundBudget, eventLoop: any EventLoop) {
        self.budget = budget
        self.backlogs = budget.backlogs(on: eventLoop)
    }

    /// Whether the peer has read from the queue lately: such a connection is slow, maybe only
    /// for a moment, rather than stalled. The caps that shrink as the budget fills spare it,
    /// and the budget's bound cuts it only after those that do not read. (A queue that has
    /// just begun has not drained yet: a new queue gets no grace, or readers that stopped
    /// later would outlast those that stopped first.)
    func hasDrained(now: NIODeadline) -> Bool {
        now - lastDrained < Self.drainWindow
    }

    /// Lets the queue hold `bytes` of a burst the server sends unasked (the login replay)
    /// under any fill of the budget, counted at what their buffers may cost, until the peer
    /// reads or `window` passes; never more than the connection's own cap.
    func allowBurst(of bytes: Int, for window: TimeAmount = allowanceWindow) {
        allowanceBytes = min(budget.perConnection, 2 * bytes + budget.trackingThreshold)
        allowanceEnds = .now() + window
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTracking(freeing: true)
        self.context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable, !isTracked, !isCut {
            // Checked at the flush that follows the write that made it unwritable, not from
            // inside that write.
            isTracked = true
            passedTotalAtCheck = passedTotal
            bufferedAtCheck = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            backlogs.track(self)
        } else if context.channel.isWritable, isTracked {
            stopTracking(freeing: false)
        }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only writes the socket did not take at once come here (see the type's comment).
        let buffer = unwrapOutboundIn(data)
        passedTotal &+= buffer.readableBytes
        passedBytes &+= buffer.readableBytes
        passedCapacity &+= buffer.capacity
        if passedBytes > 1 << 24 {
            // Recent writes count more than old ones.
            passedBytes >>= 1
            passedCapacity >>= 1
        }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        if isTracked { check() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTracking(freeing: true)
        context.fireChannelInactive()
    }

    /// Reads the queue's size and cuts the connection if its loop's ledger says so.
    func check() {
        guard isTracked, let context else { return }
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        if bufferedAtCheck &+ (passedTotal &- passedTotalAtCheck) > buffered {
            lastDrained = .now()
            allowanceBytes = 0  // it reads: from now on judged as any reader
        }
        bufferedAtCheck = buffered
        passedTotalAtCheck = passedTotal
        let now = passedBytes > 0 ? Int(Double(buffered) * Double(max(passedCapacity, passedBytes)) / Double(passedBytes)) : buffered
        let delta = now - queued
        queued = now
        backlogs.changed(by: delta, budget: budget)
        backlogs.enforce(after: self)
    }

    /// Closes the connection for its queue (its loop's ledger decided), freeing the queue now.
    func cut(cap: Int) {
        guard let context, !isCut else { return }
        isCut = true
        stopTracking(freeing: true)
        context.fireUserInboundEventTriggered(Cut(cap: cap))
        context.close(promise: nil)
    }

    /// `freeing`: the connection is closing, and its queue's memory goes back (a queue that
    /// drained was written and freed bit by bit, as any write is).
    private func stopTracking(freeing: Bool) {
        guard isTracked else { return }
        isTracked = false
        backlogs.untrack(self, budget: budget)
        if freeing { budget.noteFreed(queued) }
        queued = 0
    }
}

/// The connections of one event loop whose queues are counted, and their total; used on that
/// loop only.
final class LoopBacklogs {
    let eventLoop: any EventLoop
    let index: Int
    private var tracked: [ObjectIdentifier: OutboundBacklog] = [:]
    /// Bytes queued for the tracked connections, as last read.
    private(set) var total = 0
    private var refresh: Scheduled<Void>?

    /// How often the tracked queues are read again while there are any: queues drain, and
    /// other loops' queues grow, without this loop writing.
    static let refreshInterval: TimeAmount = .milliseconds(100)

    init(eventLoop: any EventLoop, index: Int) {
        self.eventLoop = eventLoop
        self.index = index
    }

    var trackedCount: Int { tracked.count }

    func track(_ connection: OutboundBacklog) {
        tracked[ObjectIdentifier(connection)] = connection
        if refresh == nil { scheduleRefresh(connection.budget) }
    }

    /// `connection` is no longer counted; what it had queued is gone (written, or freed).
    func untrack(_ connection: OutboundBacklog, budget: OutboundBudget) {
        guard tracked.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        changed(by: -connection.queued, budget: budget)
        if tracked.isEmpty {
            refresh?.cancel()
            refresh = nil
        }
    }

    func changed(by delta: Int, budget: OutboundBudget) {
        guard delta != 0 else { return }
        total += delta
        budget.publish(total, loop: index)
    }

    /// Cuts `connection` if its queue is over its own limit, or, when it does not read, over
    /// the cap the budget's fill allows now; then, while the queues of all loops together are
    /// over the budget's bound, this loop's longest — those that do not read first, and last
    /// those still within a login replay's allowance (a fresh login was cut in the middle of
    /// its first frame once the bound shrank with the process's memory).
    func enforce(after connection: OutboundBacklog) {
        let budget = connection.budget
        let now = NIODeadline.now()
        let cap = connection.hasDrained(now: now)
            ? budget.perConnection : max(connection.allowance(now: now), budget.cap(forQueued: budget.queuedBytes))
        if connection.queued > cap {
            connection.cut(cap: cap)
        }
        guard budget.queuedBytes > budget.bound else { return }
        func spared(_ connection: OutboundBacklog) -> Int {
            if connection.queued <= connection.allowance(now: now) { return 2 }
            return connection.hasDrained(now: now) ? 1 : 0
        }
        let longestFirst = tracked.values.map { (spared: spared($0), queued: $0.queued, connection: $0) }
            .sorted { ($0.spared, -$0.queued) < ($1.spared, -$1.queued) }
            .map(\.connection)
        for longest in longestFirst {
            guard budget.queuedBytes > budget.bound else { break }
            longest.cut(cap: budget.cap(forQueued: budget.queuedBytes))
        }
    }

    private func scheduleRefresh(_ budget: OutboundBudget) {
        refresh = eventLoop.assumeIsolated().scheduleTask(in: Self.refreshInterval) { [self] in
            refresh = nil
            for connection in Array(tracked.values) { connection.check() }
            if !tracked.isEmpty { scheduleRefresh(budget) }
        }
    }
}
