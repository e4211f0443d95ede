import ChatCompression
import ChatProtocol
import Foundation
import NIOCore

/// Measures feature `deflate` on realistic traffic (``ChatCorpus``): how many frames are worth
/// compressing, the bytes saved, and the CPU time per frame, for live messages (one frame
/// each), a login replay and history pages.
public enum CompressionReport {
    /// One kind of traffic and what compression did to it.
    public struct Row: Sendable {
        public var name: String
        public var frames: Int
        public var compressedFrames: Int
        public var plainBytes: Int
        public var wireBytes: Int
        /// Time in `compressFrames` per frame (all frames, including the ones left as they are).
        public var compressMicroseconds: Double
        /// Time in `compressFrames` per frame that was compressed.
        public var compressedFrameMicroseconds: Double
        /// Time to inflate per compressed frame.
        public var inflateMicroseconds: Double
    }

    /// Runs the measurement on `messages` live messages, and on replays of `replayLength`.
    public static func run(messages count: Int, replayLength: Int = 1000) -> [Row] {
        var corpus = ChatCorpus()
        let messages = (0..<count).map { corpus.nextMessage(timestamp: 1_700_000_000 + Int64($0)) }
        let live = messages.map { FrameCoding.encode(Frame(messages: [$0])) }
        let replays = stride(from: 0, to: max(count - replayLength, 1), by: max(replayLength, 1)).prefix(20).map {
            FrameCoding.encode(Frame(usernameAccepted: true, info: "Welcome", userList: ["alice", "bob"], messages: Array(messages[$0..<min($0 + replayLength, count)])))
        }
        let pages = stride(from: 0, to: max(count - 50, 1), by: 50).prefix(200).map {
            FrameCoding.encode(Frame(messages: Array(messages[$0..<min($0 + 50, count)])))
        }
        return [
            measure("live messages, one per frame", live),
            measure("history pages of 50 messages", pages),
            measure("login replays of \(replayLength) messages", replays),
        ]
    }

    private static func measure(_ name: String, _ frames: [ByteBuffer]) -> Row {
        var row = Row(name: name, frames: frames.count, compressedFrames: 0, plainBytes: 0, wireBytes: 0,
                      compressMicroseconds: 0, compressedFrameMicroseconds: 0, inflateMicroseconds: 0)
        var outputs: [ByteBuffer] = []
        var times: [Duration] = []
        outputs.reserveCapacity(frames.count)
        // One reusable deflate stream, as each server event loop keeps.
        let deflater = FrameDeflater()
        let start = ContinuousClock.now
        for frame in frames {
            let began = ContinuousClock.now
            outputs.append(FrameCompression.compressFrames(frame, using: deflater))
            times.append(ContinuousClock.now - began)
        }
        let compressing = ContinuousClock.now - start
        var inflating = Duration.zero
        var compressingThese = Duration.zero
        for (index, (frame, output)) in zip(frames, outputs).enumerated() {
            row.plainBytes += frame.readableBytes
            row.wireBytes += output.readableBytes
            var reader = output
            guard let length = reader.readInteger(as: UInt32.self), let payload = reader.readSlice(length: Int(length)),
                  FrameCompression.isCompressed(payload) else { continue }
            row.compressedFrames += 1
            compressingThese += times[index]
            let began = ContinuousClock.now
            let inflated = try? FrameCompression.inflate(payload, maximumLength: 16 << 20)
            inflating += ContinuousClock.now - began
            precondition(inflated?.readableBytes == frame.readableBytes - 4, "inflated frame differs")
        }
        row.compressMicroseconds = microseconds(compressing) / Double(max(frames.count, 1))
        row.inflateMicroseconds = row.compressedFrames == 0 ? 0 : microseconds(inflating) / Double(row.compressedFrames)
        row.compressedFrameMicroseconds = row.compressedFrames == 0 ? 0 : microseconds(compressingThese) / Double(row.compressedFrames)
        return row
    }

    private static func microseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    }

    /// The rows as a Markdown table.
    public static func table(_ rows: [Row]) -> String {
        var lines = [
            "| Traffic | Frames | Compressed | Bytes plain | Bytes on the wire | Ratio | Compress µs/frame (all) | Compress µs/compressed frame | Inflate µs/compressed frame |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in rows {
            let ratio = Double(row.wireBytes) / Double(max(row.plainBytes, 1))
            let share = 100 * Double(row.compressedFrames) / Double(max(row.frames, 1))
            lines.append("| \(row.name) | \(row.frames) | \(row.compressedFrames) (\(String(format: "%.1f", share)) %) | \(row.plainBytes) | \(row.wireBytes) | \(String(format: "%.3f", ratio)) | \(String(format: "%.1f", row.compressMicroseconds)) | \(String(format: "%.1f", row.compressedFrameMicroseconds)) | \(String(format: "%.1f", row.inflateMicroseconds)) |")
        }
        return lines.joined(separator: "\n")
    }
}
