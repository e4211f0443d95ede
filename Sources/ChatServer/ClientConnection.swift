import NIOCore

/// The hub's handle on one client connection: safe to hold and pass between threads.
///
/// Everything that touches the connection's pipeline happens on its event loop, mostly
/// through ``outbox`` (batched deliveries).
final class ClientConnection: Sendable {
    let eventLoop: any EventLoop
    let outbox: Outbox
    /// The peer's IP address without the port ("127.0.0.1", "::1"): what names are reserved
    /// for and login attempts counted by.
    let address: String
    /// The session on the loop. Emptied when the connection closes, which also breaks the
    /// session ↔ connection reference cycle.
    let session: NIOLoopBoundBox<SessionHandler?>

    init(session: SessionHandler, outbox: Outbox, address: String) {
        self.eventLoop = outbox.eventLoop
        self.address = address
        self.outbox = outbox
        self.session = NIOLoopBoundBox(session, eventLoop: outbox.eventLoop)
    }

    /// A connection with no session behind it: a recipient the routing can choose, to which
    /// nothing is written (the routing micro-benchmarks' users).
    init(detachedOn outbox: Outbox, address: String) {
        self.eventLoop = outbox.eventLoop
        self.address = address
        self.outbox = outbox
        self.session = .makeEmptyBox(valueType: SessionHandler.self, eventLoop: outbox.eventLoop)
    }
}
