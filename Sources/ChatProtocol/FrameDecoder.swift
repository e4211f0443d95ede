public import NIOCore

/// A peer declared a frame longer than this side accepts.
public struct FrameTooLargeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The length the 4-byte prefix declared.
    public var declaredLength: UInt32
    /// The most this side accepts.
    public var maximumLength: Int

    public init(declaredLength: UInt32, maximumLength: Int) {
        self.declaredLength = declaredLength
        self.maximumLength = maximumLength
    }

    public var description: String {
        "Frame of \(declaredLength) bytes exceeds the maximum of \(maximumLength) bytes"
    }
}

/// Splits a byte stream into frame payloads: a 4-byte unsigned big-endian length, then that
/// many bytes of JSON.
///
/// Frames split across reads and several frames in one read both work. A declared length
/// above ``maximumFrameLength`` throws ``FrameTooLargeError`` as soon as the 4-byte header is
/// read, before any of that length is buffered or allocated.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// Default cap on a frame's JSON: 1 MiB.
    public static let defaultMaximumFrameLength = 1 << 20

    /// Largest payload accepted, in bytes.
    public let maximumFrameLength: Int

    public init(maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength) {
        precondition(maximumFrameLength >= 0)
        self.maximumFrameLength = maximumFrameLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard UInt64(length) <= UInt64(maximumFrameLength) else {
            throw FrameTooLargeError(declaredLength: length, maximumLength: maximumFrameLength)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(length))
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}
