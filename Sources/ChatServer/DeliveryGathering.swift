public import NIOCore

/// The frames one connection receives in one outbox drain, gathered into one write.
///
/// Frames delivered together go out as one buffer: one TLS record and one syscall for all of
/// them instead of one each. A single frame is passed on as is, still shared with every other
/// recipient of the broadcast; from the second on, the frames are copied into a buffer of the
/// connection's own — up to ``copyLimit`` bytes: frames past it are kept as they are, shared,
/// and written one by one. Large frames gain nothing from a copy (TLS splits records at
/// 16 KiB anyway), and copies of them for every recipient of a drain that gathered many add up:
/// a busy loop delivering ten 60 KB frames to 1,000 recipients held 2.4 GB at once, each
/// recipient's copy with room for four times its size. Public for the micro-benchmarks only
/// (Benchmarks/Micro); it stays here, behind the SPI, as it is the session's own code.
@_spi(Benchmarks) public struct DeliveryGathering {
    private var gathered: ByteBuffer?
    /// Whether `gathered` is still a frame shared with other recipients.
    private var shared = false
    /// Frames past the copy limit, in order after `gathered`, still shared; those before
    /// `nextUncopied` are taken.
    private var uncopied: [ByteBuffer] = []
    private var nextUncopied = 0

    /// The most bytes copied together for one connection in one drain.
    public static let copyLimit = 16 * 1024

    public init() {}

    /// Adds `frame`; true when it is the first since everything was taken (the connection
    /// then needs a flush at the end of the drain).
    public mutating func add(_ frame: ByteBuffer, allocator: @autoclosure () -> ByteBufferAllocator) -> Bool {
        guard var buffer = gathered else {
            gathered = frame
            shared = true
            return true
        }
        guard uncopied.isEmpty, buffer.readableBytes + frame.readableBytes <= Self.copyLimit else {
            uncopied.append(frame)
            return false
        }
        gathered = nil  // keeps `buffer` uniquely referenced, so appends do not copy it again
        if shared {
            var own = allocator().buffer(capacity: min(4 * (buffer.readableBytes + frame.readableBytes), Self.copyLimit))
            own.writeImmutableBuffer(buffer)
            buffer = own
            shared = false
        }
        buffer.writeImmutableBuffer(frame)
        gathered = buffer
        return false
    }

    /// The next buffer of what was gathered since everything was last taken, in order; nil
    /// once all is taken. The frames copied together come first, then each frame past the
    /// copy limit as it is.
    public mutating func take() -> ByteBuffer? {
        if let first = gathered {
            gathered = nil
            return first
        }
        guard nextUncopied < uncopied.count else {
            if !uncopied.isEmpty {
                uncopied.removeAll(keepingCapacity: true)
                nextUncopied = 0
            }
            return nil
        }
        defer { nextUncopied += 1 }
        return uncopied[nextUncopied]
    }
}
