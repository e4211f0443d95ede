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

    @Test func directSendsHandTheirBuffersBackAndWritesReuseThem() throws {
        let connection = try LoopbackTLS()
        defer { connection.shutDown() }
        for index in 0..<5 {
            try connection.server.writeAndFlush(LoopbackTLS.chunk(index: index, size: 200)).wait()
            // After each send one buffer waits in the loop's pool; the next write takes it.
            #expect(try connection.onServerLoop { CiphertextPool.forThisThread.count } == 1)
        }
        try connection.client.waitForBytes(5 * 200)
        #expect(connection.client.inOrder)
    }
}
