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
/// It runs on the blocking pool, never on an event loop, and normally only once a burst is
/// over: when the previous interval saw activity and the last one none (it walks the whole
/// heap and holds each arena's lock meanwhile, which a busy server should not pay for).
/// But when much memory has been let go of — the queues of slow readers cut or gone, counted by
/// `freed` — it trims at once, at most once a second, while chat goes on: an attack of slow
/// readers must not leave a busy server at its peak size for as long as it stays busy.
final class MemoryTrimmer: Sendable {
    /// A glibc function that Swift does not import, looked up by name; `nil` elsewhere.
    private static func libcFunction<Function>(_ name: String, as type: Function.Type) -> Function? {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: type)
        #else
        return nil
        #endif
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32
    private static let mallocTrim = libcFunction("malloc_trim", as: MallocTrim.self)

    private typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
    private static let mallocOption = libcFunction("mallopt", as: MallocOption.self)

    /// Returns free heap memory to the system, where the C library can.
    static let releaseFreeMemory: (@Sendable () -> Void)? = {
        guard let mallocTrim else { return nil }
        return { _ = mallocTrim(0) }
    }()

    /// Stops glibc from giving memory back on its own in the middle of a burst.
    ///
    /// By default every `free` that leaves more than 128 KiB free at the top of a thread's
    /// heap returns it with `madvise`, and the next allocations fault the pages in again: an
    /// outbox drain that gathers a dozen frames per recipient paid that on every drain (5x
    /// slower, seen in the FanOut micro-benchmark). With the trimmer on duty the server can
    /// keep freed memory until the burst is over. Large blocks are still mapped on their own
    /// (fixed at 1 MiB: setting one threshold stops glibc from moving the other).
    static let holdFreedMemoryDuringBursts: Void = {
        guard let mallocOption, mallocTrim != nil else { return }
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = mallocOption(trimThreshold, 64 << 20)
        _ = mallocOption(mmapThreshold, 1 << 20)
    }()

    /// Bytes let go of (a counter that only grows), and how many of them make a trim due.
    struct Freed: Sendable {
        var bytes: @Sendable () -> Int
        var threshold: Int
        /// How often the counter is read.
        var interval: TimeAmount = .seconds(1)
    }

    /// Trimming when the process's resident memory nears a bound, whatever else happens.
    struct Pressure: Sendable {
        /// The resident memory now (``ResidentMemory/current()``), or `nil` if unknown.
        var resident: @Sendable () -> Int? = ResidentMemory.current
        /// Trims when the resident memory is above this.
        var threshold: Int
        /// Told every measurement (the outbound budget counts the process's memory).
        var observe: @Sendable (Int) -> Void = { _ in }
        /// How often the memory is measured.
        var interval: TimeAmount = .milliseconds(250)
        /// Least time between two trims for pressure (a trim walks the whole heap).
        var minimumTrimInterval: TimeAmount = .seconds(1)
    }

    private let tasks: [RepeatedTask]

    /// Checks every `interval` whether `activity()` (a counter that moves with any work)
    /// has just stopped moving, and trims on `pool` then; with `freed`, trims whenever that
    /// many more bytes have been let go of since the last trim; with `pressure`, measures the
    /// resident memory and trims when it is above the threshold (at most once a second).
    init(
        every interval: TimeAmount, on eventLoop: any EventLoop, pool: NIOThreadPool,
        activity: @escaping @Sendable () -> UInt64, freed: Freed? = nil, pressure: Pressure? = nil,
        trim: (@Sendable () -> Void)? = MemoryTrimmer.releaseFreeMemory
    ) {
        var measuring: [RepeatedTask] = []
        if let pressure {
            // Counted in measurements, so that the loop's clock is the only one.
            let measurementsBetweenTrims = max(1, Int(pressure.minimumTrimInterval.nanoseconds / max(1, pressure.interval.nanoseconds)))
            let sinceTrim = NIOLockedValueBox(Int.max)
            measuring.append(eventLoop.scheduleRepeatedTask(initialDelay: pressure.interval, delay: pressure.interval) { _ in
                guard let resident = pressure.resident() else { return }
                pressure.observe(resident)
                let due = sinceTrim.withLockedValue { count in
                    count = count == .max ? count : count + 1
                    guard resident > pressure.threshold, count >= measurementsBetweenTrims else { return false }
                    count = 0
                    return true
                }
                if due, let trim { pool.submit { _ in trim() } }
            })
        }
        guard let trim else {
            tasks = measuring
            return
        }
        _ = MemoryTrimmer.holdFreedMemoryDuringBursts
        // Only the repeated tasks touch them, but they are made here, off the loop.
        let observed = NIOLockedValueBox((last: activity(), wasBusy: false))
        let trimmedAtFreed = NIOLockedValueBox(freed?.bytes() ?? 0)
        var tasks = [
            eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                let now = activity()
                let shouldTrim = observed.withLockedValue { observed in
                    let busy = now != observed.last
                    defer { observed = (now, busy) }
                    return !busy && observed.wasBusy
                }
                guard shouldTrim else { return }
                trimmedAtFreed.withLockedValue { $0 = freed?.bytes() ?? 0 }
                pool.submit { _ in trim() }
            }
        ]
        if let freed {
            tasks.append(eventLoop.scheduleRepeatedTask(initialDelay: freed.interval, delay: freed.interval) { _ in
                let now = freed.bytes()
                let due = trimmedAtFreed.withLockedValue { trimmedAt in
                    guard now - trimmedAt >= freed.threshold else { return false }
                    trimmedAt = now
                    return true
                }
                if due { pool.submit { _ in trim() } }
            })
        }
        self.tasks = tasks + measuring
    }

    func cancel() {
        for task in tasks { task.cancel() }
    }
}
