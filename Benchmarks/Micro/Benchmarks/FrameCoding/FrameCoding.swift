// Frame decode and encode: the work every frame costs on the server's read path
// (FrameDecoder -> FrameCoding.decode in SessionHandler.channelRead) and once per broadcast on
// its write path (FrameCoding.encode in Hub.submit). docs/MICROBENCHMARKS.md has the figures.
import Benchmark
import BenchmarkFixtures
import ChatProtocol
@_spi(Benchmarks) import ChatServer  // FrameSplitter, the server's own frame cutter
import NIOCore
import NIOEmbedded

/// Wall clock and CPU per operation, throughput, and the allocator's view: mallocs per
/// operation, and mallocs minus frees (non-zero would mean the operation keeps memory).
let metrics: [BenchmarkMetric] = [
    .wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocFreeDelta, .memoryLeakedBytes,
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, timeUnits: .nanoseconds, maxDuration: .seconds(2))
    // Single frames take about a microsecond: 1,000 per sample keeps the timer's cost out.
    let perFrame = scaled(.kilo)
    let perBatch = scaled(.one)

    // What the harness itself counts per sample when nothing is measured: subtract it from the
    // figures of the benchmarks that run one operation per sample (scaling factor 1).
    Benchmark("Harness overhead (empty sample)", configuration: scaled(.one)) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(0) }
    }

    // MARK: Decoding

    Benchmark("Split one MESSAGES frame (FrameDecoder only)", configuration: perFrame) { benchmark in
        let input = Fixtures.messagesFrame
        var decoder = FrameDecoder()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var buffer = input
            blackHole(split(&decoder, &buffer))
        }
    }

    Benchmark("Decode one MESSAGES frame (149 B: split + parse + Frame)", configuration: perFrame) { benchmark in
        let input = Fixtures.messagesFrame
        var decoder = FrameDecoder()
        var probe = input
        check(decodeMessages(split(&decoder, &probe)) == 1)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var buffer = input
            blackHole(decodeMessages(split(&decoder, &buffer)))
        }
    }

    Benchmark("JSONParser.parse of the MESSAGES payload (no Frame)", configuration: perFrame) { benchmark in
        let payload = Fixtures.messagesPayload
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(parse(payload))
        }
    }

    Benchmark("Decode 100 MESSAGES frames from one buffer (14.9 KB)", configuration: perBatch) { benchmark in
        let input = Fixtures.hundredFrames
        var decoder = FrameDecoder()
        var check = input
        var checked = 0
        while let payload = try? decoder.decode(buffer: &check) { checked += decodeMessages(payload) }
        precondition(checked == 100, "the fixture holds 100 messages")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var buffer = input
            var messages = 0
            while let payload = split(&decoder, &buffer) { messages += decodeMessages(payload) }
            blackHole(messages)
        }
    }

    // The server cuts frames with FrameSplitter (NIO's inlinable single-step processor,
    // specialized for FrameDecoder); NIOCore's generic ByteToMessageHandler did it before.
    Benchmark("Read path: 100 frames through FrameSplitter (the server's) + decode", configuration: perBatch) { benchmark in
        readPath(benchmark, FrameSplitter(maximumFrameLength: FrameDecoder.defaultMaximumFrameLength))
    }

    Benchmark("Read path: 100 frames through ByteToMessageHandler(FrameDecoder) + decode", configuration: perBatch) { benchmark in
        readPath(benchmark, ByteToMessageHandler(FrameDecoder()))
    }

    Benchmark("JSONParser.parse of the client's login (USERNAME + FEATURES, 84 B)", configuration: perFrame) { benchmark in
        let payload = Fixtures.loginPayload
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(parseBytes(payload))
        }
    }

    Benchmark("Decode the client's login to a Frame (parse + Frame)", configuration: perFrame) { benchmark in
        let payload = ByteBuffer(bytes: Fixtures.loginPayload)
        check(decodeFrame(payload)?.frame.features?.count == 5)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decodeFrame(payload))
        }
    }

    Benchmark("Decode the base protocol's login {\"USERNAME\":\"alice\"}", configuration: perFrame) { benchmark in
        let payload = ByteBuffer(bytes: Fixtures.plainLoginPayload)
        check(decodeFrame(payload)?.frame.username == "alice")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decodeFrame(payload))
        }
    }

    // MARK: Encoding

    Benchmark("Encode a broadcast frame (Frame + FrameCoding.encode, as Hub.submit)", configuration: perFrame) { benchmark in
        let message = Fixtures.broadcast()
        check(FrameCoding.encode(Frame(messages: [message])) == Fixtures.messagesFrame)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(FrameCoding.encode(Frame(messages: [message])))
        }
    }

    Benchmark("Encode a broadcast frame into a reused buffer (FrameCoding.write)", configuration: perFrame) { benchmark in
        let frame = Frame(messages: [Fixtures.broadcast()])
        var buffer = ByteBuffer()
        buffer.reserveCapacity(1024)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            buffer.clear()
            FrameCoding.write(frame, into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    Benchmark("Encode a broadcast of 100 B non-ASCII content (escaped, 344 B)", configuration: perFrame) { benchmark in
        let message = Fixtures.unicodeBroadcast
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(FrameCoding.encode(Frame(messages: [message])))
        }
    }
}

// MARK: - Helpers (outside the measured closures, so the closures read as what is measured)

/// One step of the frame splitter; `nil` at the end of the buffer.
@inline(__always)
func split(_ decoder: inout FrameDecoder, _ buffer: inout ByteBuffer) -> ByteBuffer? {
    // The fixtures are far below the 1 MiB limit, so this never throws here.
    try? decoder.decode(buffer: &buffer)
}

/// The messages in one payload, as the server decodes it (strict).
@inline(__always)
func decodeMessages(_ payload: ByteBuffer?) -> Int {
    guard let payload else { return 0 }
    return decodeFrame(payload)?.frame.messages?.count ?? 0
}

@inline(__always)
func decodeFrame(_ payload: ByteBuffer) -> DecodedFrame? {
    try? FrameCoding.decode(payload, strictness: .strict)
}

@inline(__always)
func parse(_ payload: ByteBuffer) -> JSONValue? {
    try? payload.withUnsafeReadableBytes { bytes throws(JSONParseError) in try JSONParser.parse(bytes) }
}

@inline(__always)
func parseBytes(_ bytes: [UInt8]) -> JSONValue? {
    try? bytes.withUnsafeBytes { bytes throws(JSONParseError) in try JSONParser.parse(bytes) }
}

/// The end of the read path: decodes each payload like SessionHandler.channelRead and counts
/// the messages, passing nothing on (so the embedded channel stores nothing).
final class DecodingSink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var messages = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        messages += decodeMessages(unwrapInboundIn(data))
    }
}

/// Feeds the fixture's 100 frames to `splitter`, followed by a sink that decodes each payload,
/// in one channel pipeline, once per iteration: a connection's read path after TLS.
func readPath(_ benchmark: Benchmark, _ splitter: any ChannelHandler) {
    let sink = DecodingSink()
    let channel = EmbeddedChannel(handlers: [splitter, sink])
    let input = Fixtures.hundredFrames
    do {
        try channel.writeInbound(input)
        precondition(sink.messages == 100, "the fixture holds 100 messages")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try channel.writeInbound(input)
        }
        benchmark.stopMeasurement()
        _ = try channel.finish()
    } catch {
        benchmark.error("EmbeddedChannel: \(error)")
    }
}
