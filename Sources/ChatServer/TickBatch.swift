import ChatProtocol
import ChatStore
import NIOCore

/// What one event loop accepted during its current tick: messages, other changes to store, and
/// replies that must follow them. The hub commits a batch in one transaction once the tick's
/// reading is done, then delivers it, so a burst of messages costs one commit and no thread
/// hand-off, and nothing is delivered before it is stored.
final class TickBatch: Sendable {
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

    init(eventLoop: any EventLoop, index: Int) {
        self.eventLoop = eventLoop
        self.index = index
        self.items = .makeBoxSendingValue([], eventLoop: eventLoop)
    }

    /// Adds `item` (on the batch's loop). True when it is the first of the tick: the caller
    /// then schedules the commit.
    func add(_ item: Item) -> Bool {
        items.value.append(item)
        return items.value.count == 1
    }

    /// Everything added since the last take (on the batch's loop).
    func take() -> [Item] {
        let taken = items.value
        items.value = []
        return taken
    }
}
