import ChatCompression
import NIOCore

/// The compressed form of the frame last compressed on one event loop, so that a broadcast
/// shared by many recipients who asked for compression is compressed once per loop, not once
/// per recipient.
///
/// The cache holds the original buffer, which keeps its storage alive: a buffer with the same
/// storage address, reader index and length is the same immutable bytes (a write to a shared
/// buffer copies it first).
final class CompressionCache: Sendable {
    private struct Entry {
        var original: ByteBuffer
        var compressed: ByteBuffer
    }

    private let entry: NIOLoopBoundBox<Entry?>
    private let deflater: NIOLoopBoundBox<FrameDeflater?>

    init(eventLoop: any EventLoop) {
        entry = .makeBoxSendingValue(nil, eventLoop: eventLoop)
        deflater = .makeBoxSendingValue(nil, eventLoop: eventLoop)
    }

    /// The loop's reusable deflate stream, made on first use.
    var loopDeflater: FrameDeflater {
        if let existing = deflater.value { return existing }
        let made = FrameDeflater()
        deflater.value = made
        return made
    }

    /// `frames` compressed where it pays (on the cache's loop).
    func compress(_ frames: ByteBuffer) -> ByteBuffer {
        if let cached = entry.value, Self.sameBytes(cached.original, frames) { return cached.compressed }
        let compressed = FrameCompression.compressFrames(frames, using: loopDeflater)
        // Only worth remembering when something was compressed (a frame of one's own is never
        // delivered twice, but costs nothing to keep until the next one).
        entry.value = Entry(original: frames, compressed: compressed)
        return compressed
    }

    private static func sameBytes(_ a: ByteBuffer, _ b: ByteBuffer) -> Bool {
        guard a.readableBytes == b.readableBytes else { return false }
        let first = a.withUnsafeReadableBytes { $0.baseAddress }
        let second = b.withUnsafeReadableBytes { $0.baseAddress }
        return first == second
    }
}
