import ChatProtocol
import ChatStore
import NIOCore

/// What one event loop staged since it last handed its changes over: messages, other changes to
/// store, and replies that must follow them. The gather window (`--gather-window-microseconds`,
/// 250 µs by default) opens with the first item; when it closes the loop hands the batch to the
/// ``CommitPipeline`` (with no window: once the loop has run the tasks already queued), whose
/// writer thread commits it in one transaction and gives it back to be delivered. So a burst of
/// messages costs one commit, and nothing is delivered before it is stored.
final class GatherBatch: Sendable {
    enum Item: Sendable {
        /// An accepted message (its sequence number is given at commit) and its encoded frame.
        case message(ChatMessage, frame: ByteBuffer)
        case store(StoreOperation)
        /// A frame for one connection, after everything staged before it.
        case reply(ByteBuffer, to: ClientConnection)
    }

    let eventLoop: any EventLoop
    /// Position among the hub's batches (one per event loop).
    let index: Int
    private let items: NIOLoopBoundBox<[Item]>
    /// When the first item since the last take was added.
    private let openedAt: NIOLoopBoundBox<NIODeadline>

    init(eventLoop: any EventLoop, index: Int) {
        self.eventLoop = eventLoop
        self.index = index
        self.items = .makeBoxSendingValue([], eventLoop: eventLoop)
        self.openedAt = .makeBoxSendingValue(.distantPast, eventLoop: eventLoop)
    }

    /// Adds `item` (on the batch's loop). True when it is the first since the last take: the
    /// caller then schedules the commit.
    func add(_ item: Item) -> Bool {
        items.value.append(item)
        guard items.value.count == 1 else { return false }
        openedAt.value = .now()
        return true
    }

    /// Everything added since the last take, and when the first of it was (on the batch's loop).
    func take() -> (items: [Item], openedAt: NIODeadline) {
        let taken = items.value
        items.value = []
        return (taken, openedAt.value)
    }
}
