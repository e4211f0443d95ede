import ChatProtocol
import ChatStore
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChatServer

/// The commit pipeline hands every batch back through one delivery callback, for the whole
/// life of the server: calling it must cost the same at the millionth batch as at the first.
@Suite struct CommitPipelineTests {
    /// How many frames are on the calling thread's stack.
    private static func stackDepth() -> Int {
        Thread.callStackReturnAddresses.count
    }

    /// The callback used to sit in a lock box of a generic type (`NIOLockedValueBox<Delivery?>`):
    /// each time it was read out through `inout` (each batch), Swift re-abstracted the function
    /// value into the box and back, wrapping it in two more thunks. After n batches a call went
    /// through 2n thunks: 34% of the server's CPU in a profile of scenario a staggered after 25 s,
    /// growing with the uptime. The stack depth at which the callback runs
    /// shows the layers: it must not change from batch to batch.
    @Test func theDeliveryCallbackCostsTheSameAtEveryBatch() async throws {
        let directory = TemporaryDirectory()
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        let pipeline = CommitPipeline(store: store)
        let depths = NIOLockedValueBox<[Int]>([])
        pipeline.deliver { _, outcome in
            #expect((try? outcome.get()) != nil)
            depths.withLockedValue { $0.append(Self.stackDepth()) }
        }
        let message = ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_000, content: "hello")
        for _ in 0..<300 {
            pipeline.submit(CommitPipeline.Batch(items: [.message(message, frame: ByteBuffer())], openedAt: .now()))
            await pipeline.flush()
        }
        await pipeline.close()
        await pipeline.shutdown()
        try store.close()
        let seen = depths.withLockedValue { $0 }
        #expect(seen.count == 300)
        // The thread that commits (the caller, or the writer's) sets the base depth; a batch
        // may run on either, so compare the deepest with the shallowest.
        let spread = (seen.max() ?? 0) - (seen.min() ?? 0)
        #expect(spread < 40, "the callback ran \(spread) frames deeper at the end than at the start")
    }
}
