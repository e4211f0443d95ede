import ChatProtocol
import Foundation
import NIOCore

/// The monotonic clock the benchmark measures with, in nanoseconds.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// One benchmark client: logs in, then counts every broadcast it receives and records its
/// latency. Lives on its channel's event loop.
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let name: String
    private let `protocol`: BenchProtocol
    private let stats: StatsRegistry
    private let loggedIn: EventLoopPromise<Void>
    private var isLoggedIn = false
    private var loopStats: LoopStats?

    init(name: String, protocol: BenchProtocol, stats: StatsRegistry, loggedIn: EventLoopPromise<Void>) {
        self.name = name
        self.protocol = `protocol`
        self.stats = stats
        self.loggedIn = loggedIn
    }

    func channelActive(context: ChannelHandlerContext) {
        loopStats = stats.local(context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(BenchWire.login(name, protocol: `protocol`)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let unit = unwrapInboundIn(data)
        guard isLoggedIn else {
            handleBeforeLogin(unit, context: context)
            return
        }
        if `protocol` == .irc, unit.readableBytesView.starts(with: "PING".utf8) {
            reply(toPing: unit, context: context)
            return
        }
        let intended = unit.withUnsafeReadableBytes { BenchWire.intendedNanos(in: $0) }
        if let intended { loopStats?.record(intendedNanos: intended, receivedNanos: monotonicNanos()) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !isLoggedIn { loggedIn.fail(BenchError("\(name): connection closed before login")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !isLoggedIn { loggedIn.fail(error) }
        context.close(promise: nil)
    }

    private func handleBeforeLogin(_ unit: ByteBuffer, context: ChannelHandlerContext) {
        switch `protocol` {
        case .chatterbox:
            guard let decoded = try? FrameCoding.decode(unit, strictness: .lenient) else { return }
            if decoded.frame.usernameAccepted == true {
                succeedLogin()
            } else if decoded.frame.usernameAccepted == false {
                loggedIn.fail(BenchError("\(name): login refused: \(decoded.frame.info ?? "")"))
            }
        case .irc:
            let line = String(buffer: unit)
            // ":server NUMERIC target ...": the numeric is the second word (not any number in the text).
            let words = line.split(separator: " ", maxSplits: 2)
            let numeric = line.hasPrefix(":") && words.count > 1 ? words[1] : ""
            if line.hasPrefix("PING") {
                reply(toPing: unit, context: context)
            } else if numeric == "001", let join = BenchWire.join(protocol: .irc) {
                context.writeAndFlush(wrapOutboundOut(join), promise: nil)
            } else if numeric == "366" {
                succeedLogin()
            } else if numeric == "433" || line.hasPrefix("ERROR") {
                loggedIn.fail(BenchError("\(name): \(line)"))
            }
        }
    }

    private func succeedLogin() {
        guard !isLoggedIn else { return }
        isLoggedIn = true
        loggedIn.succeed()
    }

    private func reply(toPing unit: ByteBuffer, context: ChannelHandlerContext) {
        let token = String(buffer: unit).dropFirst(4)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "PONG\(token)\r\n")), promise: nil)
    }
}

/// Splits IRC's byte stream into lines (without the line ending), capped in length.
struct LineDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 65536 { throw BenchError("IRC line longer than 64 KiB") }
            return nil
        }
        let length = newline - buffer.readerIndex
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        return line
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        try decode(buffer: &buffer)
    }
}

/// A benchmark could not run.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
