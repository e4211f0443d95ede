import ChatCompression
import ChatProtocol
import NIOCore

/// What goes out: the frames the hub delivers (the hot path: ``deliver(_:)``,
/// ``writeDeliveries()`` and ``flushDeliveries()``, called by the ``Outbox`` drain), the
/// session's own replies and errors, and closing.
extension SessionHandler {
    /// Writes a frame the hub delivered; true when this session now needs a flush
    /// (``writeDeliveries()`` and ``flushDeliveries()`` at the end of the drain, see ``DeliveryGathering``).
    func deliver(_ delivered: ByteBuffer) -> Bool {
        let frame = output.compressing ? connection.outbox.compressionCache.compress(delivered) : delivered
        switch state {
        case .live:
            // Plain malloc: the buffer lives for one drain (the channel's allocator would map
            // large ones with mmap, per drain and recipient at high rates).
            return output.gathered.add(frame, allocator: ByteBufferAllocator())
        case .loggingIn:
            if login.holdBack(frame) > hub.outboundBudget.currentCap {
                hub.metrics.limit(.slowReaderCut)
                disconnect(reason: "Disconnected: too many messages queued while logging in.", waitForDelivery: false)
            }
            return false
        case .awaitingLogin, .verifying, .closed:
            return false
        }
    }

    /// Encrypts and queues what the drain gathered; the bytes queued (0: nothing to flush).
    func writeDeliveries() -> Int {
        var bytes = 0
        while let gathered = output.gathered.take() {
            guard let context else { continue }
            if let tlsBelow {
                tlsBelow.writeFromAbove(gathered)
            } else {
                context.write(wrapOutboundOut(gathered), promise: nil)
            }
            bytes += gathered.readableBytes
        }
        return bytes
    }

    func flushDeliveries() {
        if let tlsBelow {
            tlsBelow.flushFromAbove()
        } else {
            context?.flush()
        }
    }

    /// Tells the client the server is stopping, then closes; completes once closed.
    func closeForShutdown() -> EventLoopFuture<Void> {
        guard let context else { return connection.eventLoop.makeSucceededVoidFuture() }
        // Answers already committed and queued for this loop go out before the goodbye.
        connection.outbox.drainNow()
        close(after: Frame(info: "The server is shutting down. Goodbye!"))
        return context.channel.closeFuture
    }

    func write(_ frame: Frame) {
        // Once closing, nothing more is queued (a connection cut for its queue stops growing it).
        guard let context, !output.closing else { return }
        var buffer = context.channel.allocator.buffer(capacity: FrameCoding.capacityEstimate(for: frame))
        FrameCoding.write(frame, into: &buffer)
        hub.metrics.bytesOut.increment(by: buffer.readableBytes)
        context.write(wrapOutboundOut(outbound(buffer)), promise: nil)
    }

    /// Encoded frames as they go out: compressed where it pays when the client asked for it.
    func outbound(_ frames: ByteBuffer) -> ByteBuffer {
        output.compressing ? FrameCompression.compressFrames(frames, using: connection.outbox.compressionCache.loopDeflater) : frames
    }

    /// Sends ERROR `text`. Errors caused by malformed input (`counted`) draw on the error
    /// budget; a connection that exhausts it is disconnected.
    func sendError(_ text: String, counted: Bool = true) {
        if counted, !budgets.errors.take() {
            hub.metrics.limit(.invalidFramesCut)
            disconnect(reason: "Disconnected: too many invalid frames.")
            return
        }
        (counted ? hub.metrics.errorsInvalidInput : hub.metrics.errorsRefusal).increment()
        write(Frame(error: text))
        context?.flush()
    }

    /// Sends ERROR `reason` as the last frame and closes.
    func disconnect(reason: String, waitForDelivery: Bool = true) {
        logger.notice("\(reason)")
        close(after: Frame(error: reason), waitForDelivery: waitForDelivery)
    }

    /// Writes `last` and closes. A peer that has stopped reading is not waited for;
    /// otherwise the frame gets two seconds to leave.
    func close(after last: Frame, waitForDelivery: Bool = true) {
        guard let context, !output.closing else { return }
        output.closing = true
        var buffer = context.channel.allocator.buffer(capacity: 128)
        FrameCoding.write(last, into: &buffer)
        guard waitForDelivery else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        let deadline = context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }
}
