import ChatProtocol
import ChatStore
import NIOCore

/// Messages from acceptance to delivery: staged on the sender's loop, handed to the commit
/// pipeline, delivered once stored.
extension Hub {
    // MARK: - Messages

    enum SubmitOutcome: Sendable, Equatable {
        case accepted
        case rejected(String)
    }

    /// Accepts a message from the user `senderKey` on `connection` (SRC already checked):
    /// resolves DEST, checks blocks and stages it on the connection's loop. It gets its place
    /// in the order when the store commits its batch, and is delivered then.
    func submit(_ message: ChatMessage, senderKey: String, from connection: ClientConnection) -> SubmitOutcome {
        // The store is behind (a slow disk, a database away): what waits for it is bounded.
        guard pipeline.backlog < configuration.maximumUnstoredMessages else {
            metrics.limit(.storeBacklogRefused)
            return .rejected("Message not sent: the server is busy storing messages. Please try again in a moment.")
        }
        // The key is computed before the lock: the lock is held for the lookups only.
        let destinationKey = UsernameRules.key(message.destination)
        let outcome = state.withLockedValue { $0.accept(message, destinationKey: destinationKey, from: senderKey) }
        switch outcome {
        case .success(let accepted):
            (accepted.isBroadcast ? metrics.broadcastsIn : metrics.directMessagesIn).increment()
            // Encoded once, here, off the lock; every recipient shares the buffer.
            stage(.message(accepted, frame: encode(Frame(messages: [accepted]))), for: connection)
            return .accepted
        case .failure(let refusal):
            return .rejected(refusal.reason)
        }
    }

    struct SubmitRefusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Sends `frame` to `connection` after every message staged so far has been delivered,
    /// so that a command's answer never overtakes the messages typed before it.
    func deliverInOrder(_ frame: ByteBuffer, to connection: ClientConnection) {
        stage(.reply(frame, to: connection), for: connection)
    }

    // MARK: - Commit and delivery

    /// Stages `item` in the batch of `connection`'s event loop (call on that loop); the first
    /// item since the last commit schedules the next one, a gather window later (with no
    /// window, once the loop has run the tasks already queued).
    func stage(_ item: GatherBatch.Item, for connection: ClientConnection) {
        stage(item, in: batches[connection.outbox.index])
    }

    /// Stages changes that no connection made (the housekeeping's), in the first loop's batch.
    func stageMaintenance(_ operations: [StoreOperation]) {
        guard !operations.isEmpty else { return }
        let batch = batches[0]
        batch.eventLoop.execute {
            for operation in operations { self.stage(.store(operation), in: batch) }
        }
    }

    /// Stages `item` in `batch` (on its loop), scheduling the commit for the first item.
    private func stage(_ item: GatherBatch.Item, in batch: GatherBatch) {
        guard batch.add(item) else { return }
        // The gather window starts here rather than at delivery: the messages of a burst then
        // share one commit (committing after each pass of the event loop took several, as a
        // burst's messages arrive over more than one pass), and the outboxes deliver at once
        // after it, so the window is spent once.
        let window = configuration.gatherWindow
        if window > .zero {
            batch.eventLoop.scheduleTask(in: window) { self.commit(batch) }
        } else {
            batch.eventLoop.execute { self.commit(batch) }
        }
    }

    /// How many batches have been committed so far; changes whenever anything happens.
    var commitCount: UInt64 { state.withLockedValue { $0.commits } }

    /// Hands a loop's batch to the commit pipeline (on the batch's loop). The pipeline keeps the
    /// order in which loops hand their batches over; the store numbers the messages in it.
    private func commit(_ batch: GatherBatch) {
        let (items, openedAt) = batch.take()
        guard !items.isEmpty else { return }
        pipeline.submit(CommitPipeline.Batch(items: items, openedAt: openedAt))
    }

    /// Delivers what the pipeline committed, in order (on its writer's thread). When the store
    /// refused, the messages are not delivered and their senders are told.
    func deliver(_ batches: [CommitPipeline.Batch], outcome: Result<[Int64], any Error>) {
        if case .failure(let error) = outcome {
            let messages = batches.reduce(0) { $0 + $1.messageCount }
            logger.error("Store write failed, \(messages) messages not delivered: \(error)")
        }
        state.withLockedValue { state in
            state.commits &+= 1
            var numbers = (try? outcome.get())?.makeIterator()
            for batch in batches {
                for item in batch.items {
                    switch item {
                    case .message(let message, let frame):
                        let senderKey = UsernameRules.key(message.source)
                        guard let sequence = numbers?.next() else {
                            if let sender = state.presence[senderKey] {
                                let error = "Message not sent: the server could not store it. Please try again."
                                sender.outbox.enqueue(encode(Frame(error: error)), to: sender, gatheringSince: batch.openedAt)
                            }
                            continue
                        }
                        state.lastDelivered = sequence
                        if message.isBroadcast {
                            state.recentBroadcasts.append(StoredMessage(sequence: sequence, message: message))
                            deliverBroadcast(frame, from: senderKey, gatheringSince: batch.openedAt, state: state)
                        } else {
                            deliverDirect(frame, message: message, senderKey: senderKey, gatheringSince: batch.openedAt, state: state)
                        }
                    case .reply(let frame, let connection):
                        connection.outbox.enqueue(frame, to: connection, gatheringSince: batch.openedAt)
                    case .store:
                        break
                    }
                }
            }
        }
    }

    /// Hands every loop's staged changes to the pipeline and returns once they are stored and
    /// delivered (before the store closes).
    func commitStagedChanges() async {
        for batch in batches {
            try? await batch.eventLoop.submit { self.commit(batch) }.get()
        }
        await pipeline.flush()
    }

    func deliverBroadcast(_ frame: ByteBuffer, from senderKey: String, gatheringSince: NIODeadline, state: State) {
        state.forEachBroadcastGroup(from: senderKey) { loop, recipients in
            metrics.deliveries.increment(by: recipients.count)
            outboxes[loop].enqueue(frame, to: .many(recipients), gatheringSince: gatheringSince)
        }
    }

    func deliverDirect(
        _ frame: ByteBuffer, message: ChatMessage, senderKey: String, gatheringSince: NIODeadline, state: State
    ) {
        let route = state.directRoute(to: UsernameRules.key(message.destination), from: senderKey)
        if let recipient = route.recipient {
            metrics.deliveries.increment()
            recipient.outbox.enqueue(frame, to: recipient, gatheringSince: gatheringSince)
        }
        guard let sender = route.echo else { return }
        metrics.deliveries.increment()
        sender.outbox.enqueue(frame, to: sender, gatheringSince: gatheringSince)
        if route.recipientOffline {
            let note = "\(message.destination) is offline; they will get your message when they next log in."
            sender.outbox.enqueue(encode(Frame(info: note)), to: sender, gatheringSince: gatheringSince)
        }
    }
}
