import NIOConcurrencyHelpers
import NIOCore

/// Frames waiting to be written on one event loop.
///
/// The hub appends deliveries from any thread; the loop drains them in one task, writing
/// every frame and flushing each connection once, so frames that queue up in the same tick
/// share TLS records and syscalls.
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
    }

    private struct Queue: Sendable {
        var deliveries: [Delivery] = []
        var drainScheduled = false
    }

    let eventLoop: any EventLoop
    /// Position among the server's outboxes (one per event loop).
    let index: Int
    private let queue = NIOLockedValueBox(Queue())

    init(eventLoop: any EventLoop, index: Int) {
        self.eventLoop = eventLoop
        self.index = index
    }

    func enqueue(_ frame: ByteBuffer, to recipients: Recipients) {
        let mustSchedule = queue.withLockedValue { queue in
            queue.deliveries.append(Delivery(frame: frame, recipients: recipients))
            defer { queue.drainScheduled = true }
            return !queue.drainScheduled
        }
        if mustSchedule {
            eventLoop.execute { self.drain() }
        }
    }

    func enqueue(_ frame: ByteBuffer, to connection: ClientConnection) {
        enqueue(frame, to: .one(connection))
    }

    private func drain() {
        let deliveries = queue.withLockedValue { queue in
            queue.drainScheduled = false
            let taken = queue.deliveries
            queue.deliveries.removeAll(keepingCapacity: true)
            return taken
        }
        var touched: [SessionHandler] = []
        func deliver(_ frame: ByteBuffer, to connection: ClientConnection) {
            guard let session = connection.session.value else { return }
            if session.deliver(frame) { touched.append(session) }
        }
        for delivery in deliveries {
            switch delivery.recipients {
            case .one(let connection):
                deliver(delivery.frame, to: connection)
            case .many(let connections):
                for connection in connections { deliver(delivery.frame, to: connection) }
            }
        }
        for session in touched { session.flushDeliveries() }
    }
}
