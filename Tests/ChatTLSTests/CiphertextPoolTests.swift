@testable import ChatTLS
import NIOCore
import Testing

/// The per-thread pool of ciphertext buffers: bounded, and fed by the direct sends.
@Suite struct CiphertextPoolTests {
    @Test func keepsAtMostItsCountOfSmallBuffers() {
        let pool = CiphertextPool()
        for _ in 0..<(CiphertextPool.maximumCount + 10) {
            pool.give(ByteBuffer(repeating: 0, count: 100))
        }
        #expect(pool.count == CiphertextPool.maximumCount)
        pool.give(ByteBuffer(repeating: 0, count: CiphertextPool.maximumCapacity + 1))
        #expect(pool.count == CiphertextPool.maximumCount, "a large buffer is not kept")
        #expect(pool.take() != nil)
        #expect(pool.count == CiphertextPool.maximumCount - 1)
    }

    @Test func directSendsHandTheirBuffersBackAndWritesReuseThem() async throws {
        try await LoopbackTLS.with { connection in
            for index in 0..<5 {
                try await connection.server.writeAndFlush(LoopbackTLS.chunk(index: index, size: 200))
                // After each send one buffer waits in the loop's pool; the next write takes it.
                #expect(try await connection.onServerLoop { CiphertextPool.forThisThread.count } == 1)
            }
            try await connection.received.waitForBytes(5 * 200)
            #expect(connection.received.inOrder)
        }
    }
}
