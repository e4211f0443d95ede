#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Gives memory the server no longer uses back to the system, every few seconds.
///
/// Why: after a burst — a storm of logins, each announced to everyone, or a slow client's
/// queue — glibc keeps the freed heap pages, so an idle server would stay as large as its
/// busiest moment. `malloc_trim` returns every free page, not only the top of the heap.
/// It runs on the blocking pool, never on an event loop, and only once a burst is over: when
/// the previous interval saw activity and the last one none (it walks the whole heap and
/// holds each arena's lock meanwhile, which a busy server should not pay for).
final class MemoryTrimmer: Sendable {
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// glibc's `malloc_trim` (not imported into Swift); `nil` elsewhere.
    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()

    /// Returns free heap memory to the system, where the C library can.
    static let releaseFreeMemory: (@Sendable () -> Void)? = {
        guard let mallocTrim else { return nil }
        return { _ = mallocTrim(0) }
    }()

    private let task: RepeatedTask?

    /// Checks every `interval` whether `activity()` (a counter that moves with any work)
    /// has just stopped moving, and trims on `pool` then.
    init(
        every interval: TimeAmount, on eventLoop: any EventLoop, pool: NIOThreadPool,
        activity: @escaping @Sendable () -> UInt64, trim: (@Sendable () -> Void)? = MemoryTrimmer.releaseFreeMemory
    ) {
        guard let trim else {
            task = nil
            return
        }
        // Only the repeated task touches it, but it is made here, off the loop.
        let observed = NIOLockedValueBox((last: activity(), wasBusy: false))
        task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let now = activity()
            let shouldTrim = observed.withLockedValue { observed in
                let busy = now != observed.last
                defer { observed = (now, busy) }
                return !busy && observed.wasBusy
            }
            if shouldTrim { pool.submit { _ in trim() } }
        }
    }

    func cancel() {
        task?.cancel()
    }
}
