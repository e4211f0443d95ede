import NIOCore
import NIOPosix

/// Ciphertext buffers reused from one send to the next on one thread (one event loop).
///
/// A direct send (``SocketSender``) leaves its buffer empty and referenced by nobody else, so
/// the next write on the same event loop, for any connection, can fill it again instead of
/// allocating one (the buffer's storage object and its bytes: two mallocs and two frees per
/// delivery otherwise). Kept per thread rather than per connection, so that an idle connection
/// holds none; bounded in the number of buffers and in the capacity of each.
final class CiphertextPool: @unchecked Sendable {  // each instance is used by its own thread only
    static let maximumCount = 64
    static let maximumCapacity = 16 * 1024

    private var buffers: [ByteBuffer] = []

    private static let perThread = ThreadSpecificVariable<CiphertextPool>()

    /// This thread's pool, made on first use.
    static var forThisThread: CiphertextPool {
        if let pool = perThread.currentValue { return pool }
        let pool = CiphertextPool()
        perThread.currentValue = pool
        return pool
    }

    /// An empty buffer from the pool, if it has one.
    func take() -> ByteBuffer? {
        buffers.popLast()
    }

    /// Keeps `buffer` for a later ``take()``; the caller has emptied it and drops its copy.
    func give(_ buffer: ByteBuffer) {
        guard buffers.count < Self.maximumCount, buffer.capacity <= Self.maximumCapacity else { return }
        buffers.append(buffer)
    }

    /// Buffers held right now (for tests).
    var count: Int { buffers.count }
}
