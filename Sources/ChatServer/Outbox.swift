import NIOConcurrencyHelpers
import NIOCore

/// Frames waiting to be written on one event loop.
///
/// The hub appends deliveries from any thread; the loop drains them in one task, gathering
/// each connection's frames into one write and one flush, so frames that queue up together
/// share a TLS record and a syscall. A drain starts no sooner after the previous one than
/// that one took (and at least `pacing`): an idle server delivers at once, a busy one spends
/// at most about half its time draining and lets frames gather meanwhile, so that each
/// syscall carries more of them as the load grows.
final class Outbox: Sendable {
    /// A frame and who gets it. A broadcast shares one list of recipients (the loop's
    /// presence list) and one encoded frame across every recipient.
    enum Recipients: Sendable {
        case one(ClientConnection)
        case many([ClientConnection])
    }

    struct Delivery: Sendable {
        var frame: ByteBuffer
        var recipients: Recipients
        /// When the frame's message was accepted (its batch opened), for the delivery latency;
        /// `nil` for frames that are not committed messages' (or were not timed).
        var acceptedAt: NIODeadline?
    }

    private struct Queue: Sendable {
        var deliveries: [Delivery] = []
        var drainScheduled = false
        var lastDrain = NIODeadline.distantPast
        var lastDrainDuration = TimeAmount.zero
    }

    let eventLoop: any EventLoop
    /// Position among the server's outboxes (one per event loop).
    let index: Int
    private let pacing: TimeAmount
    /// Broadcasts compressed once for every recipient on this loop that asked for it.
    let compressionCache: CompressionCache
    private let queue = NIOLockedValueBox(Queue())

    /// How long the first frame after a quiet spell waits for others to join it.
    private let gatherWindow: TimeAmount

    private let metrics: ServerMetrics

    init(eventLoop: any EventLoop, index: Int, pacing: TimeAmount, gatherWindow: TimeAmount, metrics: ServerMetrics = .none) {
        self.metrics = metrics
        self.compressionCache = CompressionCache(eventLoop: eventLoop)
        self.eventLoop = eventLoop
        self.index = index
        self.pacing = pacing
        self.gatherWindow = gatherWindow
    }

    /// Queues `frame` for `recipients`. `gatheringSince` is when the frame's gather window
    /// opened, if it opened before now (a commit that already waited for its burst); by
    /// default it opens now.
    func enqueue(_ frame: ByteBuffer, to recipients: Recipients, gatheringSince: NIODeadline? = nil) {
        let drainAt: NIODeadline? = queue.withLockedValue { queue in
            queue.deliveries.append(Delivery(frame: frame, recipients: recipients, acceptedAt: gatheringSince))
            guard !queue.drainScheduled else { return nil }
            queue.drainScheduled = true
            let paced = queue.lastDrain + max(pacing, queue.lastDrainDuration)
            return gatherWindow > .zero ? max(paced, (gatheringSince ?? .now()) + gatherWindow) : paced
        }
        guard let drainAt else { return }
        if drainAt <= .now() {
            eventLoop.execute { self.drain() }
        } else {
            eventLoop.scheduleTask(deadline: drainAt) { self.drain() }
        }
    }

    func enqueue(_ frame: ByteBuffer, to connection: ClientConnection, gatheringSince: NIODeadline? = nil) {
        enqueue(frame, to: .one(connection), gatheringSince: gatheringSince)
    }

    /// Delivers what is queued now rather than at its scheduled time (on the loop): a session
    /// about to say goodbye first gets every answer already handed to it.
    func drainNow() {
        eventLoop.preconditionInEventLoop()
        guard queue.withLockedValue({ !$0.deliveries.isEmpty }) else { return }
        drain()
    }

    private func drain() {
        let started = NIODeadline.now()
        defer {
            let duration = NIODeadline.now() - started
            queue.withLockedValue { $0.lastDrainDuration = duration }
        }
        let deliveries = queue.withLockedValue { queue in
            queue.drainScheduled = false
            queue.lastDrain = started
            let taken = queue.deliveries
            queue.deliveries.removeAll(keepingCapacity: true)
            return taken
        }
        var touched: [SessionHandler] = []
        func deliver(_ frame: ByteBuffer, to connection: ClientConnection) {
            guard let session = connection.session else { return }
            if session.deliver(frame) { touched.append(session) }
        }
        var index = deliveries.startIndex
        while index < deliveries.endIndex {
            switch deliveries[index].recipients {
            case .one(let connection):
                deliver(deliveries[index].frame, to: connection)
                index += 1
            case .many(let connections):
                // Broadcasts in a row to the same list (the loop's presence list, unchanged
                // between them) reach every member as the same bytes: gather them once for all.
                var end = index + 1
                while end < deliveries.endIndex, case .many(let next) = deliveries[end].recipients,
                    Self.isSameList(next, connections)
                {
                    end += 1
                }
                let frames = Self.concatenate(deliveries[index..<end])
                if touched.isEmpty { touched.reserveCapacity(connections.count) }
                for connection in connections { deliver(frames, to: connection) }
                index = end
            }
        }
        // Encrypt a group of recipients' frames, then send them: the syscalls go out back to
        // back, so a reader that keeps up is woken once per group rather than once per write
        // (the wake-ups were 8% of the CPU at 50,000 deliveries/s). Groups end at 64 KiB, as
        // a larger one holds back the first recipients' data: encrypting everyone's before the
        // first flush halved the highest rate.
        var unflushed: [SessionHandler] = []
        var unflushedBytes = 0
        var sentBytes = 0
        for session in touched {
            let bytes = session.writeDeliveries()
            guard bytes > 0 else { continue }
            sentBytes += bytes
            unflushed.append(session)
            unflushedBytes += bytes
            if unflushedBytes >= Self.flushGroupBytes {
                for session in unflushed { session.flushDeliveries() }
                unflushed.removeAll(keepingCapacity: true)
                unflushedBytes = 0
            }
        }
        for session in unflushed { session.flushDeliveries() }
        recordMetrics(of: deliveries, bytes: sentBytes)
    }

    /// Bytes handed to connections, and one latency per batch of messages (a batch's
    /// deliveries share its acceptance time, and follow one another).
    private func recordMetrics(of deliveries: [Delivery], bytes: Int) {
        if bytes > 0 { metrics.bytesOut.increment(by: bytes) }
        let now = NIODeadline.now()
        var last: NIODeadline?
        for delivery in deliveries {
            guard let acceptedAt = delivery.acceptedAt, acceptedAt != last else { continue }
            last = acceptedAt
            metrics.deliveryLatency.recordNanoseconds((now - acceptedAt).nanoseconds)
        }
    }

    /// Plaintext bytes encrypted for a group of recipients before the group is flushed.
    private static let flushGroupBytes = 64 * 1024

    /// Whether two recipient lists are one array (the same storage), as the hub's copies of a
    /// loop's presence list are until someone joins or leaves.
    private static func isSameList(_ first: [ClientConnection], _ second: [ClientConnection]) -> Bool {
        first.count == second.count
            && first.withUnsafeBufferPointer { $0.baseAddress } == second.withUnsafeBufferPointer { $0.baseAddress }
    }

    /// The frames of `deliveries` as one buffer; a single frame as it is (shared, not copied).
    private static func concatenate(_ deliveries: ArraySlice<Delivery>) -> ByteBuffer {
        guard deliveries.count > 1 else { return deliveries[deliveries.startIndex].frame }
        let size = deliveries.reduce(0) { $0 + $1.frame.readableBytes }
        // Plain malloc: the buffer lives for one drain (see SessionHandler.deliver).
        var frames = ByteBufferAllocator().buffer(capacity: size)
        for delivery in deliveries { frames.writeImmutableBuffer(delivery.frame) }
        return frames
    }
}
