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

    @Test func releaseFreeMemoryIsAvailableOnGlibc() {
        #if canImport(Glibc)
        #expect(MemoryTrimmer.releaseFreeMemory != nil)
        MemoryTrimmer.releaseFreeMemory?()
        #endif
    }
}
