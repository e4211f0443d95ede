import CompressNIO
public import NIOCore

/// Per-frame deflate (feature `deflate`, PROTOCOL.md *Compression*): a compressed frame's
/// payload is the byte 0x00 followed by the raw deflate stream (RFC 1951) of the JSON. A JSON
/// text never starts with 0x00, so the two cannot be confused, and the frame decoder and its
/// length limit are unchanged.
///
/// Every frame is compressed on its own (no shared dictionary), so a frame encoded once for
/// every recipient is compressed at most once per recipient and decompressed without state.
/// Only frames where it pays are compressed: ``minimumPayload`` bytes or more, and saving at
/// least a tenth.
public enum FrameCompression {
    /// The first payload byte of a compressed frame.
    public static let marker: UInt8 = 0
    /// Payloads shorter than this are sent as they are: a typical chat line barely shrinks,
    /// and compressing it costs more than the bytes saved.
    public static let minimumPayload = 256

    /// Whether `payload` (a frame's bytes after the length) is compressed.
    public static func isCompressed(_ payload: ByteBuffer) -> Bool {
        payload.getInteger(at: payload.readerIndex, as: UInt8.self) == marker
    }

    /// `payload` compressed, with the marker, when that saves at least a tenth; otherwise `nil`.
    /// `deflater` is reused if given (much cheaper than a new one per frame).
    public static func compressedPayload(_ payload: ByteBuffer, using deflater: FrameDeflater? = nil) -> ByteBuffer? {
        guard payload.readableBytes >= minimumPayload else { return nil }
        guard let output = (deflater ?? FrameDeflater()).deflate(payload),
              output.readableBytes <= payload.readableBytes * 9 / 10
        else { return nil }
        return output
    }

    /// `frames` (whole length-prefixed frames, one or more) with each frame compressed where it
    /// pays. Returns `frames` itself, uncopied, when none is.
    public static func compressFrames(_ frames: ByteBuffer, using deflater: FrameDeflater? = nil) -> ByteBuffer {
        var reader = frames
        var output: ByteBuffer?
        var copiedUpTo = frames.readerIndex
        while let length = reader.readInteger(as: UInt32.self), let payload = reader.readSlice(length: Int(length)) {
            guard length >= minimumPayload, let compressed = compressedPayload(payload, using: deflater) else { continue }
            var out = output ?? ByteBuffer()
            let start = reader.readerIndex - Int(length) - 4
            if start > copiedUpTo, let before = frames.getSlice(at: copiedUpTo, length: start - copiedUpTo) {
                out.writeImmutableBuffer(before)
            }
            out.writeInteger(UInt32(compressed.readableBytes))
            out.writeImmutableBuffer(compressed)
            copiedUpTo = reader.readerIndex
            output = out
        }
        guard var out = output else { return frames }
        let end = frames.readerIndex + frames.readableBytes
        if end > copiedUpTo, let rest = frames.getSlice(at: copiedUpTo, length: end - copiedUpTo) {
            out.writeImmutableBuffer(rest)
        }
        return out
    }

    /// The JSON of a compressed payload (marker included). Throws ``InflateError`` when the
    /// data is not valid deflate or would inflate beyond `maximumLength` bytes (the frame
    /// limit: a small frame cannot make this side allocate more than a large one could).
    public static func inflate(_ payload: ByteBuffer, maximumLength: Int) throws -> ByteBuffer {
        var input = payload
        guard input.readInteger(as: UInt8.self) == marker else { throw InflateError.notCompressed }
        do {
            // compress-nio refuses a buffer that reaches maxSize, hence the + 1.
            return try input.decompress(with: .deflate(), maxSize: maximumLength + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw InflateError.tooLarge(maximumLength: maximumLength)
        } catch {
            throw InflateError.corrupt
        }
    }

    /// Why a compressed frame could not be read.
    public enum InflateError: Error, Sendable, Equatable, CustomStringConvertible {
        case notCompressed
        case corrupt
        case tooLarge(maximumLength: Int)

        public var description: String {
            switch self {
            case .notCompressed: "the frame is not compressed"
            case .corrupt: "the compressed frame is not valid deflate data"
            case .tooLarge(let maximum): "the compressed frame inflates beyond the maximum of \(maximum) bytes"
            }
        }
    }
}
