public import NIOCore

/// The frames one connection receives in one outbox drain, gathered into one write.
///
/// Frames delivered together go out as one buffer: one TLS record and one syscall for all of
/// them instead of one each. A single frame is passed on as is, still shared with every other
/// recipient of the broadcast; from the second on, the frames are copied into a buffer of the
/// connection's own. Public for the micro-benchmarks only (Benchmarks/Micro).
@_spi(Benchmarks) public struct DeliveryGathering {
    private var gathered: ByteBuffer?
    /// Whether `gathered` is still a frame shared with other recipients.
    private var shared = false

    public init() {}

    /// Adds `frame`; true when it is the first since the last ``take()`` (the connection then
    /// needs a flush at the end of the drain).
    public mutating func add(_ frame: ByteBuffer, allocator: @autoclosure () -> ByteBufferAllocator) -> Bool {
        guard var buffer = gathered else {
            gathered = frame
            shared = true
            return true
        }
        gathered = nil  // keeps `buffer` uniquely referenced, so appends do not copy it again
        if shared {
            var own = allocator().buffer(capacity: 4 * (buffer.readableBytes + frame.readableBytes))
            own.writeImmutableBuffer(buffer)
            buffer = own
            shared = false
        }
        buffer.writeImmutableBuffer(frame)
        gathered = buffer
        return false
    }

    /// Everything gathered since the last take, as one buffer.
    public mutating func take() -> ByteBuffer? {
        defer { gathered = nil }
        return gathered
    }
}
