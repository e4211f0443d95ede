import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Why a ``WorkPool`` did not run a piece of work.
enum WorkPoolError: Error, Equatable, CustomStringConvertible {
    /// As much work as the pool admits is already waiting or running.
    case busy
    /// The server is shutting down: the work was not started (or was cancelled while queued).
    case stopping

    var description: String {
        switch self {
        case .busy: "the server is busy"
        case .stopping: "the server is shutting down"
        }
    }
}

/// Threads for blocking work (SQLite reads, password hashing, file I/O) off the event loops,
/// with a bound on the work admitted at once and an orderly stop.
///
/// ``stop()`` refuses new work, fails the work still queued with ``WorkPoolError/stopping`` (its
/// session hears so) and returns once the work already running has returned: after it, nothing
/// from this pool touches the store or the disk.
final class WorkPool: Sendable {
    private struct State {
        var admitted = 0
        var open = true
    }

    let label: String
    /// Most pieces of work queued or running at once; 0: no bound.
    let limit: Int
    /// The threads themselves, for housekeeping that needs a plain `NIOThreadPool` (``MemoryTrimmer``).
    let threads: NIOThreadPool
    private let state = NIOLockedValueBox(State())

    init(label: String, threads count: Int, limit: Int = 0) {
        self.label = label
        self.limit = limit
        threads = NIOThreadPool(numberOfThreads: max(1, count))
        threads.start()
    }

    /// Pieces of work queued or running now.
    var admitted: Int { state.withLockedValue { $0.admitted } }

    /// Runs `work` on one of the pool's threads; the future completes on `eventLoop`. Fails at
    /// once with ``WorkPoolError/busy`` when the pool holds its limit, and with
    /// ``WorkPoolError/stopping`` once it stops.
    func run<Value: Sendable>(on eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> Value) -> EventLoopFuture<Value> {
        let refusal: WorkPoolError? = state.withLockedValue { state in
            guard state.open else { return .stopping }
            guard limit == 0 || state.admitted < limit else { return .busy }
            state.admitted += 1
            return nil
        }
        if let refusal { return eventLoop.makeFailedFuture(refusal) }
        let state = self.state
        return threads.runIfActive(eventLoop: eventLoop, work)
            .flatMapErrorThrowing { error in
                // Queued work the pool cancelled as it stopped.
                if error is NIOThreadPoolError.ThreadPoolInactive { throw WorkPoolError.stopping }
                throw error
            }
            .always { _ in state.withLockedValue { $0.admitted -= 1 } }
    }

    /// Runs `work` on the pool if it is still open, with nobody waiting for it (housekeeping).
    func submit(_ work: @escaping @Sendable () -> Void) {
        guard state.withLockedValue({ $0.open }) else { return }
        threads.submit { if case .active = $0 { work() } }
    }

    /// Refuses new work, cancels what is queued (those futures fail with
    /// ``WorkPoolError/stopping``) and returns when the work under way has returned. Idempotent.
    func stop() async {
        state.withLockedValue { $0.open = false }
        try? await threads.shutdownGracefully()
    }
}
