internal import CNIOBoringSSL
public import NIOCore
import NIOTLS

/// Terminates TLS for one server connection, driving BoringSSL's `SSL` object directly.
///
/// Why not swift-nio-ssl's `NIOSSLServerHandler`: it holds a 32 KiB plaintext buffer, a
/// ciphertext buffer that never shrinks and a queue of buffered writes for the whole life of
/// every connection, and each write waits in that queue until a flush. A chat server keeps
/// thousands of mostly idle connections and writes small frames to many of them at once, so
/// here nothing is held between events: received ciphertext is read straight out of the
/// channel's buffer, decrypted into a buffer sized to what arrived, and each write is
/// encrypted at once; at the flush its ciphertext goes straight to the socket (``SocketSender``)
/// when the channel has nothing queued, or down the pipeline when it has. An idle connection
/// costs the `SSL` object (a few KB) and this handler.
///
/// Behaviour at the edges follows swift-nio-ssl's: writes before the handshake completes
/// wait for it; `TLSUserEvent.handshakeCompleted` is fired when it does; closing sends
/// close_notify and waits (at most `closeNotifyTimeout`) for the peer's, so that a peer
/// still sending cannot turn the close into a reset that destroys the last frames sent to
/// it; a protocol error is fired as ``TLSServerError`` and closes the connection.
public final class TLSServerHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking
        case active
        /// close_notify sent; waiting for the peer's, the end of the connection, or the timeout.
        case closing(EventLoopPromise<Void>?, Scheduled<Void>?)
        case closed
    }

    /// How long a closing connection waits for the peer's close_notify.
    static let closeNotifyTimeout: TimeAmount = .seconds(1)
    /// Largest plaintext buffer handed on in one read: below `LazyPageAllocator`'s 16 KiB, so
    /// reads never map pages of their own.
    private static let maximumReadChunk = 8 * 1024

    private let tlsContext: ServerTLSContext
    private var ssl: OpaquePointer?
    /// Sends ciphertext to the socket itself; nil when the channel has no socket it can find
    /// (embedded channels in tests) or the context says not to.
    private var socket: SocketSender?
    /// Where ciphertext buffers come from and go back to after a direct send (with `socket`).
    private var pool: CiphertextPool?
    /// Whether ciphertext passed down the pipeline may still wait in the channel. The socket is
    /// written directly only while none does, so that bytes go out in order.
    private var channelBusy = false
    /// An empty write with a promise follows our latest buffer into the channel, one at a time:
    /// its completion says the channel has written everything before it.
    private var drainMarkerPending = false
    /// Whether buffers followed the pending marker into the channel (it then gets a successor).
    private var writtenSinceDrainMarker = false
    /// Flushes sent to the socket whole, and those (or their rests) passed to the channel.
    private(set) var directSendCount = 0
    private(set) var channelSendCount = 0
    private var state = State.handshaking
    /// Plain malloc, not the channel's allocator: every buffer here lives only until the
    /// write or read completes, and the channel's (LazyPageAllocator) maps large blocks with
    /// mmap, a pair of syscalls and page faults per write at high rates.
    private let allocator = ByteBufferAllocator()
    /// Received ciphertext BoringSSL has not consumed yet (normally empty between reads).
    private var inbound: ByteBuffer?
    /// Ciphertext BoringSSL produced since the last flush (writes, handshake records, alerts).
    private var outbound: ByteBuffer?
    /// Promises of the writes whose ciphertext is in `outbound`, completed when it is sent.
    private var outboundPromises: [EventLoopPromise<Void>] = []
    /// Size to allocate `outbound` with when BoringSSL starts writing.
    private var outboundSizeHint = 0
    /// Writes made before the handshake completed, sent when it does.
    private var writesBeforeHandshake: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushBeforeHandshake = false
    /// This handler's place in the pipeline while it is in it, for ``writeFromAbove(_:)``.
    private var context: ChannelHandlerContext?

    init(context: ServerTLSContext) {
        self.tlsContext = context
    }

    deinit {
        freeSSL()
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        guard let ssl = SSL_new(tlsContext.context) else {
            state = .closed
            context.close(promise: nil)
            return
        }
        guard let bio = RecordBIO.make(for: self) else {
            SSL_free(ssl)
            state = .closed
            context.close(promise: nil)
            return
        }
        // One BIO for both directions: SSL_set_bio takes the single reference BIO_new returned.
        SSL_set_bio(ssl, bio, bio)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        if tlsContext.sendsToSocket, let socket = SocketSender(channel: context.channel) {
            self.socket = socket
            pool = CiphertextPool.forThisThread
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failWritesBeforeHandshake(ChannelError.ioOnClosedChannel)
        failUnsentWrites(ChannelError.ioOnClosedChannel)
        socket = nil
        self.context = nil
        freeSSL()
    }

    private func freeSSL() {
        guard let ssl else { return }
        if let bio = SSL_get_rbio(ssl) { RecordBIO.detach(bio) }
        SSL_free(ssl)
        self.ssl = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if case .closing(let promise, let timeout) = state {
            timeout?.cancel()
            promise?.succeed()
        }
        state = .closed
        failWritesBeforeHandshake(ChannelError.ioOnClosedChannel)
        failUnsentWrites(ChannelError.ioOnClosedChannel)
        socket = nil  // it held the channel
        inbound = nil
        context.fireChannelInactive()
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var received = unwrapInboundIn(data)
        guard ssl != nil else { return }
        if case .closed = state { return }
        if inbound == nil {
            inbound = received
        } else {
            inbound!.writeBuffer(&received)
        }
        if case .handshaking = state {
            guard continueHandshake(context) else { return }
        }
        readApplicationData(context)
        if inbound?.readableBytes == 0 { inbound = nil }
    }

    /// Returns true once the handshake is complete (and the caller may read data).
    private func continueHandshake(_ context: ChannelHandlerContext) -> Bool {
        guard let ssl else { return false }
        outboundSizeHint = 4096
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        sendOutboundIfAny(context)
        if result == 1 {
            state = .active
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
            sendWritesBeforeHandshake(context)
            return true
        }
        let error = SSL_get_error(ssl, result)
        if error != SSL_ERROR_WANT_READ {
            fail(context, reason: ServerTLSContext.lastError(or: "handshake failed (\(error))"))
        }
        return false
    }

    private func readApplicationData(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        var plaintext: ByteBuffer? = nil
        var peerClosed = false
        var failure: String? = nil
        ERR_clear_error()
        reading: while true {
            let waiting = (inbound?.readableBytes ?? 0) + Int(SSL_pending(ssl))
            if plaintext == nil || plaintext!.writableBytes == 0 {
                if let full = plaintext {
                    forward(full, context)
                    // What the data led to may have ended the connection meanwhile.
                    if case .closed = state { return }
                }
                plaintext = allocator.buffer(capacity: min(max(waiting, 512), Self.maximumReadChunk))
            }
            var result: CInt = 0
            plaintext!.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { space in
                result = SSL_read(ssl, space.baseAddress, CInt(space.count))
                return Int(max(0, result))
            }
            if result > 0 { continue }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ:
                break reading
            case SSL_ERROR_ZERO_RETURN:
                peerClosed = true
                break reading
            default:
                failure = ServerTLSContext.lastError(or: "cannot read a record (\(error))")
                break reading
            }
        }
        if let plaintext, plaintext.readableBytes > 0 { forward(plaintext, context) }
        // Reading can make BoringSSL answer (a key update, an alert).
        sendOutboundIfAny(context)
        if let failure {
            fail(context, reason: failure)
        } else if peerClosed {
            answerCloseNotify(context)
        }
    }

    private func forward(_ plaintext: ByteBuffer, _ context: ChannelHandlerContext) {
        // While closing, what the peer still says is of no use to anyone.
        guard case .active = state else { return }
        context.fireChannelRead(wrapInboundOut(plaintext))
    }

    // MARK: Writing

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        write(unwrapOutboundIn(data), promise: promise, context)
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .handshaking:
            flushBeforeHandshake = true
        case .active, .closing:
            sendOutbound(context)
        case .closed:
            break
        }
    }

    /// Encrypts `plaintext` as a write reaching this handler through the pipeline would, for
    /// the handler of the same channel above it that calls it directly (on the event loop): a
    /// delivery then skips the pipeline's hop, a context walk with boxing and reference
    /// counting for each write and each flush (about 2% of the CPU at 50,000 deliveries/s).
    /// Only for a caller with no handler between it and this one that handles writes or flushes.
    public func writeFromAbove(_ plaintext: ByteBuffer) {
        guard let context else { return }
        write(plaintext, promise: nil, context)
    }

    /// Flushes as a flush reaching this handler would (see ``writeFromAbove(_:)``).
    public func flushFromAbove() {
        guard let context else { return }
        flush(context: context)
    }

    private func write(_ plaintext: ByteBuffer, promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) {
        switch state {
        case .handshaking:
            writesBeforeHandshake.append((plaintext, promise))
        case .active:
            encryptAndPass(plaintext, promise: promise, context)
        case .closing, .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    private func encryptAndPass(_ plaintext: ByteBuffer, promise: EventLoopPromise<Void>?, _ context: ChannelHandlerContext) {
        guard let ssl else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let length = plaintext.readableBytes
        guard length > 0 else {
            // BoringSSL refuses empty writes; the promise completes in order at the flush.
            if let promise { outboundPromises.append(promise) }
            return
        }
        // Each record adds at most 29 bytes (TLS 1.2 AES-GCM: header, explicit nonce, tag).
        let records = (length + Int(SSL3_RT_MAX_PLAIN_LENGTH) - 1) / Int(SSL3_RT_MAX_PLAIN_LENGTH)
        outboundSizeHint = length + records * 29
        // No ERR_clear_error here (a thread-local lookup per write): nothing below asks
        // SSL_get_error, and a failure's message drains the queue.
        let written = plaintext.withUnsafeReadableBytes { bytes in
            SSL_write(ssl, bytes.baseAddress, CInt(bytes.count))
        }
        guard written == CInt(length), outbound != nil else {
            promise?.fail(TLSServerError.library(ServerTLSContext.lastError(or: "cannot encrypt a write")))
            fail(context, reason: "cannot encrypt a write")
            return
        }
        if let promise { outboundPromises.append(promise) }
    }

    private func sendWritesBeforeHandshake(_ context: ChannelHandlerContext) {
        let writes = writesBeforeHandshake
        writesBeforeHandshake = []
        for (plaintext, promise) in writes {
            encryptAndPass(plaintext, promise: promise, context)
        }
        if flushBeforeHandshake || !writes.isEmpty {
            flushBeforeHandshake = false
            sendOutbound(context)
        }
    }

    private func failWritesBeforeHandshake(_ error: any Error) {
        let writes = writesBeforeHandshake
        writesBeforeHandshake = []
        for (_, promise) in writes { promise?.fail(error) }
    }

    /// Sends what BoringSSL produced on its own (handshake records, alerts), if anything.
    private func sendOutboundIfAny(_ context: ChannelHandlerContext) {
        guard outbound != nil || !outboundPromises.isEmpty else { return }
        sendOutbound(context)
    }

    /// Sends the ciphertext produced since the last flush: straight to the socket when the
    /// channel has nothing queued, else — and whatever the socket did not take — down the
    /// pipeline, flushed.
    private func sendOutbound(_ context: ChannelHandlerContext) {
        guard outbound != nil || !outboundPromises.isEmpty else {
            // Nothing new; a flush still reaches the channel when it holds something of ours.
            if channelBusy || socket == nil { context.flush() }
            return
        }
        var ciphertext = outbound ?? allocator.buffer(capacity: 0)
        let promises = outboundPromises
        outbound = nil
        outboundPromises = []
        guard let socket else {
            channelSendCount &+= 1
            context.write(wrapOutboundOut(ciphertext), promise: Self.combined(promises, on: context.eventLoop))
            context.flush()
            return
        }
        if !channelBusy, socket.send(&ciphertext) == .sent {
            directSendCount &+= 1
            ciphertext.clear()  // ours alone now, so its storage stays
            pool?.give(ciphertext)
            for promise in promises { promise.succeed() }
            return
        }
        channelSendCount &+= 1
        // The socket is full, failed or has earlier bytes queued in the channel: the channel
        // writes the rest when it can, or meets the error and closes. A pooled buffer much
        // larger than what is left goes back to the pool, and the rest waits in one of its size.
        if let pool, ciphertext.capacity > 2 * ciphertext.readableBytes + 1024 {
            var rest = allocator.buffer(capacity: ciphertext.readableBytes)
            rest.writeImmutableBuffer(ciphertext)
            ciphertext.clear()
            pool.give(ciphertext)
            ciphertext = rest
        }
        context.write(wrapOutboundOut(ciphertext), promise: Self.combined(promises, on: context.eventLoop))
        channelBusy = true
        if drainMarkerPending {
            writtenSinceDrainMarker = true
        } else {
            writeDrainMarker(context)
        }
        context.flush()
    }

    /// Follows what was just passed down with an empty write whose completion says the channel
    /// has written all of it; a promise per marker, not per buffer, so a connection that has
    /// stopped reading costs no more per queued write than through NIO alone.
    private func writeDrainMarker(_ context: ChannelHandlerContext) {
        drainMarkerPending = true
        writtenSinceDrainMarker = false
        let marker = context.eventLoop.makePromise(of: Void.self)
        marker.futureResult.assumeIsolated().whenComplete { result in
            self.drainMarkerPending = false
            // A failed write means the channel is closing: it stays busy, nothing is sent directly.
            guard case .success = result else { return }
            if self.writtenSinceDrainMarker {
                // NIO picks up a write made while it completes the previous ones.
                self.writeDrainMarker(context)
                context.flush()
            } else {
                self.channelBusy = false
            }
        }
        context.write(wrapOutboundOut(allocator.buffer(capacity: 0)), promise: marker)
    }

    /// One promise standing for `promises` (nil for none).
    private static func combined(_ promises: [EventLoopPromise<Void>], on eventLoop: any EventLoop) -> EventLoopPromise<Void>? {
        guard promises.count > 1 else { return promises.first }
        let all = eventLoop.makePromise(of: Void.self)
        for promise in promises { all.futureResult.cascade(to: promise) }
        return all
    }

    private func failUnsentWrites(_ error: any Error) {
        let promises = outboundPromises
        outboundPromises = []
        outbound = nil
        for promise in promises { promise.fail(error) }
    }

    // MARK: Closing

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        switch state {
        case .handshaking:
            state = .closed
            failWritesBeforeHandshake(ChannelError.ioOnClosedChannel)
            context.close(promise: promise)
        case .active:
            sendCloseNotify(context)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let timeout = context.eventLoop.scheduleTask(in: Self.closeNotifyTimeout) {
                let (handler, context) = bound.value
                handler.stopWaitingForCloseNotify(context)
            }
            state = .closing(promise, timeout)
        case .closing(let pending, let timeout):
            if let pending {
                if let promise { pending.futureResult.cascade(to: promise) }
            } else {
                state = .closing(promise, timeout)
            }
        case .closed:
            context.close(promise: promise)
        }
    }

    private func stopWaitingForCloseNotify(_ context: ChannelHandlerContext) {
        guard case .closing(let promise, _) = state else { return }
        state = .closed
        context.close(promise: promise)
    }

    /// The peer sent close_notify: answer it and close.
    private func answerCloseNotify(_ context: ChannelHandlerContext) {
        switch state {
        case .active:
            sendCloseNotify(context)
            state = .closed
            context.close(promise: nil)
        case .closing(let promise, let timeout):
            timeout?.cancel()
            state = .closed
            context.close(promise: promise)
        case .handshaking, .closed:
            break
        }
    }

    private func sendCloseNotify(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        outboundSizeHint = 64
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        sendOutboundIfAny(context)
    }

    private func fail(_ context: ChannelHandlerContext, reason: String) {
        // BoringSSL has queued an alert for the peer when it could; send it before closing.
        sendOutboundIfAny(context)
        let promise: EventLoopPromise<Void>?
        switch state {
        case .closed:
            return
        case .closing(let pending, let timeout):
            timeout?.cancel()
            promise = pending
        case .handshaking, .active:
            promise = nil
        }
        state = .closed
        failWritesBeforeHandshake(ChannelError.ioOnClosedChannel)
        context.fireErrorCaught(TLSServerError.protocolViolation(reason))
        context.close(promise: promise)
    }

    /// Bytes of buffers the handler holds right now (zero on an idle connection).
    var heldBufferBytes: Int {
        (inbound?.capacity ?? 0) + (outbound?.capacity ?? 0) + writesBeforeHandshake.reduce(0) { $0 + $1.0.capacity }
    }

    // MARK: BIO callbacks

    func readCiphertext(into destination: UnsafeMutableRawBufferPointer) -> Int {
        guard var source = inbound, source.readableBytes > 0 else { return 0 }
        inbound = nil  // keeps `source` uniquely referenced while it is read
        let count = min(destination.count, source.readableBytes)
        source.readWithUnsafeReadableBytes { bytes in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(count)))
            return count
        }
        inbound = source
        return count
    }

    func writeCiphertext(_ bytes: UnsafeRawBufferPointer) {
        if outbound == nil {
            let size = max(outboundSizeHint, bytes.count)
            if var reused = pool?.take() {
                reused.reserveCapacity(size)
                outbound = reused
            } else {
                outbound = allocator.buffer(capacity: size)
            }
        }
        outbound!.writeBytes(bytes)
    }
}
