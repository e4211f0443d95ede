import ChatTestSupport
import NIOCore
import Synchronization

/// The client's end: counts what arrives and checks that the counters follow one another.
/// A test waits for bytes by polling (bounded), never by blocking a thread.
final class ReceivedBytes: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private struct State {
        var bytes = 0
        var next: UInt32 = 0
        var inOrder = true
        /// Bytes of a counter split across reads.
        var partial: [UInt8] = []
    }

    private let state = Mutex(State())

    var inOrder: Bool { state.withLock { $0.inOrder } }
    var byteCount: Int { state.withLock { $0.bytes } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLock { state in
            state.bytes += buffer.readableBytes
            state.partial += buffer.readableBytesView
            let whole = state.partial.count / 4 * 4
            for start in stride(from: 0, to: whole, by: 4) {
                let value = state.partial[start..<start + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if value != state.next { state.inOrder = false }
                state.next = value &+ 1
            }
            state.partial.removeFirst(whole)
        }
    }

    /// Waits (bounded, scaled for sanitizer runs) until at least `count` bytes have arrived.
    func waitForBytes(_ count: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while byteCount < count {
            guard ContinuousClock.now < deadline else {
                throw TestFailure("timed out waiting for \(count) bytes; \(byteCount) arrived")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
