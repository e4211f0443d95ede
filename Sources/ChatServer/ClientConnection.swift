import NIOCore

/// The hub's handle on one client connection: safe to hold and pass between threads.
///
/// Everything that touches the connection's pipeline happens on its event loop, mostly
/// through ``outbox`` (batched deliveries).
///
/// Ownership runs one way: the channel's pipeline owns the session, the session owns this
/// connection, and the connection refers back to the session weakly. The hub, its outboxes
/// and its batches may hold the connection after the channel is gone; they then find no
/// session and write nothing.
final class ClientConnection: Sendable {
    /// A weak reference to the session, kept on its loop.
    private struct SessionReference {
        weak var handler: SessionHandler?
    }

    let eventLoop: any EventLoop
    let outbox: Outbox
    /// The peer's IP address without the port ("127.0.0.1", "::1"): what names are reserved
    /// for and login attempts counted by.
    let address: String
    private let sessionReference: NIOLoopBoundBox<SessionReference>

    /// A connection with no session yet: ``SessionHandler`` attaches itself when it makes
    /// one; the routing micro-benchmarks' users never get one (a recipient the routing can
    /// choose, to which nothing is written).
    init(outbox: Outbox, address: String) {
        self.eventLoop = outbox.eventLoop
        self.address = address
        self.outbox = outbox
        self.sessionReference = .makeBoxSendingValue(SessionReference(), eventLoop: outbox.eventLoop)
    }

    /// The session on the loop, while its channel's pipeline holds it (on the loop).
    var session: SessionHandler? { sessionReference.value.handler }

    /// Makes `session` the one this connection's deliveries go to (on the loop, once).
    func attach(_ session: SessionHandler) {
        sessionReference.value.handler = session
    }
}
