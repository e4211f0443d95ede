@testable import ChatServer
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// The trimmer gives memory back once a burst is over, and leaves a busy or idle server alone.
@Suite struct MemoryTrimmerTests {
    /// Runs a trimmer on an embedded loop; `steps` says how much activity each interval sees.
    private func trims(forActivityPerInterval steps: [UInt64]) async throws -> Int {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let trims = NIOLockedValueBox(0)
        try run(steps, pool: pool) { trims.withLockedValue { $0 += 1 } }
        // Whatever was submitted has run once the pool shuts down.
        try await pool.shutdownGracefully()
        return trims.withLockedValue { $0 }
    }

    /// The embedded loop's part, on one thread from start to end (an `EmbeddedEventLoop` may
    /// only be used, and released, on the thread that made it; an `await` may change threads).
    private func run(_ steps: [UInt64], pool: NIOThreadPool, trim: @escaping @Sendable () -> Void) throws {
        let loop = EmbeddedEventLoop()
        let activity = NIOLockedValueBox<UInt64>(0)
        let trimmer = MemoryTrimmer(every: .seconds(5), on: loop, pool: pool, activity: { activity.withLockedValue { $0 } }, trim: trim)
        for step in steps {
            activity.withLockedValue { $0 += step }
            loop.advanceTime(by: .seconds(5))
        }
        trimmer.cancel()
        try loop.syncShutdownGracefully()
    }

    @Test func trimsOnceWhenABurstEnds() async throws {
        #expect(try await trims(forActivityPerInterval: [500, 300, 0, 0, 0]) == 1)
    }

    @Test func trimsAfterEachBurst() async throws {
        #expect(try await trims(forActivityPerInterval: [10, 0, 0, 7, 0]) == 2)
    }

    @Test func leavesABusyServerAlone() async throws {
        #expect(try await trims(forActivityPerInterval: [1, 2, 3, 4, 5]) == 0)
    }

    @Test func leavesAnIdleServerAlone() async throws {
        #expect(try await trims(forActivityPerInterval: [0, 0, 0, 0]) == 0)
    }

    /// Issue 21 (2): memory freed while chat goes on (slow readers' queues cut) went back to
    /// the system only after 5 s without activity. Now enough of it trims a busy server too.
    @Test func trimsABusyServerOnceEnoughMemoryIsFreed() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let trims = NIOLockedValueBox(0)
        try runBusy(seconds: 6, freedPerSecond: 60, threshold: 100, pool: pool) { trims.withLockedValue { $0 += 1 } }
        try await pool.shutdownGracefully()
        // 360 bytes freed over 6 busy seconds, a trim per 100: at 2, 4 and 6 s.
        #expect(trims.withLockedValue { $0 } == 3)
    }

    @Test func leavesABusyServerAloneWhileLittleIsFreed() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let trims = NIOLockedValueBox(0)
        try runBusy(seconds: 6, freedPerSecond: 10, threshold: 100, pool: pool) { trims.withLockedValue { $0 += 1 } }
        try await pool.shutdownGracefully()
        #expect(trims.withLockedValue { $0 } == 0)
    }

    /// A trimmer on an embedded loop whose server is busy every second and frees
    /// `freedPerSecond` bytes a second.
    private func runBusy(seconds: Int, freedPerSecond: Int, threshold: Int, pool: NIOThreadPool, trim: @escaping @Sendable () -> Void) throws {
        let loop = EmbeddedEventLoop()
        let activity = NIOLockedValueBox<UInt64>(0)
        let freed = NIOLockedValueBox(0)
        let trimmer = MemoryTrimmer(
            every: .seconds(5), on: loop, pool: pool, activity: { activity.withLockedValue { $0 } },
            freed: .init(bytes: { freed.withLockedValue { $0 } }, threshold: threshold, interval: .seconds(1)), trim: trim)
        for _ in 0..<seconds {
            activity.withLockedValue { $0 += 1 }
            freed.withLockedValue { $0 += freedPerSecond }
            loop.advanceTime(by: .seconds(1))
        }
        trimmer.cancel()
        try loop.syncShutdownGracefully()
    }

    /// Under memory pressure the trimmer trims while the server stays busy, at most once a
    /// second, and tells every measurement to the budget.
    @Test func trimsAtMostOnceASecondWhileTheProcessIsOverItsThreshold() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let loop = EmbeddedEventLoop()
        let resident = NIOLockedValueBox(100)
        let observed = NIOLockedValueBox<[Int]>([])
        let trims = NIOLockedValueBox(0)
        let activity = NIOLockedValueBox<UInt64>(0)
        let trimmer = MemoryTrimmer(
            every: .seconds(5), on: loop, pool: pool, activity: { activity.withLockedValue { $0 } },
            pressure: .init(
                resident: { resident.withLockedValue { $0 } }, threshold: 150,
                observe: { value in observed.withLockedValue { $0.append(value) } }),
            trim: { trims.withLockedValue { $0 += 1 } })
        func run(seconds: Int) {
            for _ in 0..<(seconds * 4) {
                activity.withLockedValue { $0 += 1 }
                loop.advanceTime(by: .milliseconds(250))
            }
        }
        run(seconds: 2)
        let below = observed.withLockedValue { $0 }
        resident.withLockedValue { $0 = 200 }
        run(seconds: 3)
        resident.withLockedValue { $0 = 100 }
        run(seconds: 2)
        trimmer.cancel()
        try await loop.shutdownGracefully()
        try await pool.shutdownGracefully()
        #expect(below == Array(repeating: 100, count: 8))
        #expect(observed.withLockedValue { $0.count } == 28)
        // Over the threshold for 3 s (12 measurements): at the first, then every fourth.
        #expect(trims.withLockedValue { $0 } == 3)
    }

    @Test func releaseFreeMemoryIsAvailableOnGlibc() {
        #if canImport(Glibc)
        #expect(MemoryTrimmer.releaseFreeMemory != nil)
        MemoryTrimmer.releaseFreeMemory?()
        #endif
    }
}
