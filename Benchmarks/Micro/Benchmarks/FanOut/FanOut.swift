// Fan-out: what one broadcast costs once it is accepted, for 100 recipients (scenario a of
// docs/PERFORMANCE.md), through the parts of the server's write path that are public.
//
// The hub's routing (Hub.deliverBroadcast, Presence, Outbox, GatherBatch) is internal to the
// ChatServer target, and ordo-one/benchmark builds in release mode, where `@testable import` is
// not available. So this suite measures:
//   - the per-message checks a session makes before the hub (public ChatProtocol API),
//   - encode once + share the buffer with every recipient (Hub.submit, Outbox.drain),
//   - the per-recipient gathering of SessionHandler.deliver (DeliveryGathering, the server's
//     own code, through its "Benchmarks" SPI),
//   - one write and flush per recipient through a NIO channel pipeline (EmbeddedChannel, with a
//     handler standing for the socket).
import Benchmark
import BenchmarkFixtures
import ChatProtocol
@_spi(Benchmarks) import ChatServer
import NIOCore
import NIOEmbedded

let metrics: [BenchmarkMetric] = [
    .wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocFreeDelta, .memoryLeakedBytes,
]

/// Recipients of each broadcast: scenario a's 100 clients.
let recipients = 100

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, timeUnits: .nanoseconds, maxDuration: .seconds(2))

    // What the harness itself counts per sample when nothing is measured: subtract it from the
    // figures of the benchmarks that run one operation per sample (scaling factor 1).
    Benchmark("Harness overhead (empty sample)", configuration: scaled(.one)) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(0) }
    }

    Benchmark("Session checks for one broadcast (SRC, DEST, command, literal)", configuration: scaled(.kilo)) { benchmark in
        let message = Fixtures.broadcast()
        let userKey = UsernameRules.key(message.source)
        let serverKey = UsernameRules.key(UsernameRules().serverName)
        check(route(message, userKey: userKey, serverKey: serverKey) == .broadcast)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(route(message, userKey: userKey, serverKey: serverKey))
        }
    }

    Benchmark("Encode 1 broadcast, share it with \(recipients) recipients", configuration: scaled(.kilo)) { benchmark in
        let message = Fixtures.broadcast()
        var pending = [ByteBuffer?](repeating: nil, count: recipients)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let frame = FrameCoding.encode(Frame(messages: [message]))
            for index in pending.indices { pending[index] = frame }
            // The flush: each recipient's reference goes to its channel and is dropped there.
            for index in pending.indices {
                blackHole(pending[index]?.readableBytes)
                pending[index] = nil
            }
        }
    }

    // Several broadcasts in one outbox drain: from the second frame on, each recipient copies
    // them into a buffer of its own (one TLS record, one syscall per recipient). Its capacity,
    // 4 × two frames, rounds up to 2 KiB: 13 frames of 149 bytes fit, the 14th reallocates.
    for framesPerDrain in [1, 2, 13, 14] {
        Benchmark(
            "Gather \(framesPerDrain) broadcast(s) per drain for \(recipients) recipients (SessionHandler.deliver)",
            configuration: scaled(framesPerDrain <= 2 ? .kilo : .one)
        ) { benchmark in
            let frames = (0..<framesPerDrain).map { FrameCoding.encode(Frame(messages: [Fixtures.broadcast(sequence: $0)])) }
            var sessions = [DeliveryGathering](repeating: DeliveryGathering(), count: recipients)
            let allocator = ByteBufferAllocator()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for frame in frames {
                    for index in sessions.indices { blackHole(sessions[index].add(frame, allocator: allocator)) }
                }
                for index in sessions.indices { blackHole(sessions[index].take()?.readableBytes) }
            }
        }
    }

    Benchmark("Write and flush 1 broadcast through \(recipients) channel pipelines (EmbeddedChannel)", configuration: scaled(.one)) { benchmark in
        let frame = Fixtures.messagesFrame
        let sinks = (0..<recipients).map { _ in SocketSink() }
        let channels = sinks.map { EmbeddedChannel(handler: $0) }
        do {
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for channel in channels { channel.writeAndFlush(frame, promise: nil) }
            }
            benchmark.stopMeasurement()
            check(sinks.allSatisfy { $0.bytes > 0 })
            for channel in channels { _ = try channel.finish() }
        } catch {
            benchmark.error("EmbeddedChannel: \(error)")
        }
    }
}

// MARK: - Helpers

enum Route: Equatable {
    case notYours, tooLong, command, toServer, broadcast, direct
}

/// Stands for the socket at the head of a recipient's pipeline: takes the bytes and lets go of
/// the buffer, as a completed write does.
final class SocketSink: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var bytes = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        bytes += unwrapOutboundIn(data).readableBytes
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {}
}

/// The checks SessionHandler.handle(_:from:) makes on each message before Hub.submit, in its
/// order: SRC is the user, CONTENT within the limit, DEST's key, a command, `//` unescaped.
@inline(never)
func route(_ message: ChatMessage, userKey: String, serverKey: String) -> Route {
    guard UsernameRules.key(message.source) == userKey else { return .notYours }
    guard message.content.utf8.count <= 65_536 else { return .tooLong }
    let destinationKey = UsernameRules.key(message.destination)
    let toServer = destinationKey == serverKey
    let toEveryone = destinationKey == UsernameRules.key(ChatMessage.broadcastDestination)
    if toEveryone || toServer, ChatCommand.parse(message.content) != nil { return .command }
    if toServer { return .toServer }
    let literal = ChatCommand.literalText(message.content)
    blackHole(literal)
    return toEveryone ? .broadcast : .direct
}
