import CompressNIO
import NIOCore

/// A deflate stream kept for reuse: setting one up allocates and clears zlib's window (over
/// 256 kB), which costs more than compressing a chat frame. Not thread-safe: one per thread
/// or event loop.
public final class FrameDeflater {
    private let compressor: ZlibCompressor?

    public init() {
        compressor = try? ZlibCompressor(algorithm: .deflate)
    }

    /// The marker and raw deflate stream of `payload`, or `nil` if compression failed.
    func deflate(_ payload: ByteBuffer) -> ByteBuffer? {
        guard let compressor else { return nil }
        var input = payload
        var output = ByteBuffer()
        output.reserveCapacity(compressor.maxSize(from: input) + 1)
        output.writeInteger(FrameCompression.marker)
        do {
            try compressor.deflate(from: &input, to: &output, flush: .finish)
            try compressor.reset()
        } catch {
            try? compressor.reset()
            return nil
        }
        return output
    }
}
