import CompressNIO
import NIOCore

/// Deflate streams kept for reuse: setting one up allocates and clears zlib's window (over
/// 256 kB), which costs more than compressing a chat frame. Not thread-safe: one per thread
/// or event loop.
///
/// Payloads of ``largePayload`` bytes or more (login replays, history pages, large messages)
/// are compressed at zlib's fastest level, the rest at its default. At the default level a
/// 1 MB page of chat took 86 ms of CPU (140 ms for the soak's random text), at the fastest
/// 23 ms (19 ms), for output a fifth larger (4% for the random text): under the
/// mixed-attack soak the logins' replays, compressed at the default level, were the largest
/// single cost of a saturated server. A chat line is small enough for the default level to
/// cost nothing that matters.
public final class FrameDeflater {
    /// Payloads from this size on are compressed at the fastest level.
    public static let largePayload = 32 * 1024

    private let compressor: ZlibCompressor?
    /// Made on first use (most connections never send a large frame), once even if it fails.
    private lazy var fastCompressor: ZlibCompressor? = try? ZlibCompressor(
        algorithm: .deflate, configuration: .init(compressionLevel: .fastestCompression))

    public init() {
        compressor = try? ZlibCompressor(algorithm: .deflate)
    }

    /// The marker and raw deflate stream of `payload`, or `nil` if compression failed.
    func deflate(_ payload: ByteBuffer) -> ByteBuffer? {
        guard let compressor = payload.readableBytes >= Self.largePayload ? fastCompressor ?? compressor : compressor else { return nil }
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
