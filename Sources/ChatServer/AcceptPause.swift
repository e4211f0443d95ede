import Logging
import NIOCore

/// Pauses accepting on a listening channel for a moment when `accept` fails, and says so.
///
/// Why: EMFILE (the open-file limit reached), ENFILE, ENOBUFS and ENOMEM leave the connection
/// waiting in the listening socket, which stays readable, so NIO retried at once, forever:
/// 80% of a core on EMFILE, with nothing logged. NIO's own `AcceptBackoffHandler` does not
/// help here (nor does `ServerBootstrap.bind(to:)` add it): it delays the next `read()`, but
/// when the first `accept` of a wake-up fails NIO never asks for one — its read is still
/// pending — and the socket stays registered for readability. Switching `autoRead` off takes
/// the socket out of the poll set; switching it back on after ``backoff`` registers it again.
///
/// One warning when accepting first pauses, however many retries fail, and one line when a
/// connection is accepted again.
final class AcceptPause: ChannelInboundHandler {
    typealias InboundIn = any Channel

    /// How long accepting pauses after a failure: a few failing syscalls a second at most,
    /// and a descriptor that frees serves the next connection soon.
    static let backoff: TimeAmount = .milliseconds(250)

    private let logger: Logger
    private let openConnections: @Sendable () -> Int
    /// When the current run of failures began; nil while accepting works.
    private var pausedSince: NIODeadline?
    private var failedRetries = 0
    private var resume: Scheduled<Void>?

    init(logger: Logger, openConnections: @escaping @Sendable () -> Int) {
        self.logger = logger
        self.openConnections = openConnections
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is IOError else {
            context.fireErrorCaught(error)
            return
        }
        if pausedSince == nil {
            pausedSince = .now()
            failedRetries = 0
            let milliseconds = Self.backoff.nanoseconds / 1_000_000
            logger.warning(
                "Accepting connections paused: \(error) (\(openConnections()) connections open). Retrying every \(milliseconds) ms.")
        } else {
            failedRetries += 1
        }
        guard resume == nil else { return }
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        let channel = context.channel
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: Self.backoff) { [self] in
            resume = nil
            try? channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let since = pausedSince {
            pausedSince = nil
            let seconds = Double((NIODeadline.now() - since).nanoseconds / 1_000_000) / 1000
            logger.notice("Accepting connections again after \(seconds) s paused (\(failedRetries) retries failed).")
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }
}
