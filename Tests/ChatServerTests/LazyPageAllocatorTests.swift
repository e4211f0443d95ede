@testable import ChatServer
import NIOCore
import Testing

/// The client connections' allocator: bytes survive every resize, on both sides of the
/// threshold between heap blocks and mapped blocks.
@Suite struct LazyPageAllocatorTests {
    /// Fills `buffer` with a pattern that tells positions apart.
    private func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    /// NIO's allocator SPI (`@_spi(CustomByteBufferAllocator)`, docs/PRIVATE-APIS.md) really
    /// calls our functions: a large buffer's storage sits in one of our mapped blocks. Should a
    /// version of NIO accept the functions but allocate elsewhere, idle connections would cost
    /// 48 KiB of resident memory again with nothing else failing; this test fails instead.
    @Test func largeBuffersLiveInMappedBlocksOfOurOwn() {
        var buffer = LazyPageAllocator.allocator.buffer(capacity: 32 * 1024)
        buffer.writeBytes(pattern(10))
        let tag = buffer.withUnsafeReadableBytes { bytes in
            (bytes.baseAddress! - LazyPageAllocator.headerSize).load(as: UInt64.self)
        }
        #expect(tag == LazyPageAllocator.mappedTag)
    }

    @Test(arguments: [100, 16 * 1024 - 1, 16 * 1024, 32 * 1024, 200_000])
    func bytesSurviveGrowthAcrossTheThreshold(initialCapacity: Int) {
        var buffer = LazyPageAllocator.allocator.buffer(capacity: initialCapacity)
        let bytes = pattern(300_000)
        // Written in pieces, so the storage is reallocated several times on the way.
        for chunk in stride(from: 0, to: bytes.count, by: 7_000) {
            buffer.writeBytes(bytes[chunk..<min(chunk + 7_000, bytes.count)])
        }
        #expect(buffer.readableBytes == bytes.count)
        #expect(buffer.readBytes(length: bytes.count) == bytes)
    }

    @Test func blocksShrinkBackBelowTheThreshold() {
        let large = LazyPageAllocator.allocate(64 * 1024)!
        let bytes = pattern(1000)
        large.copyMemory(from: bytes, byteCount: bytes.count)
        let small = LazyPageAllocator.reallocate(large, 64 * 1024, 1000)!
        #expect(Array(UnsafeRawBufferPointer(start: small, count: 1000)) == bytes)
        let grown = LazyPageAllocator.reallocate(small, 1000, 20_000)!
        #expect(Array(UnsafeRawBufferPointer(start: grown, count: 1000)) == bytes)
        #expect(Int(bitPattern: grown) % 16 == 0)
        LazyPageAllocator.deallocate(grown)
    }

    @Test func copiesShareNothing() {
        var first = LazyPageAllocator.allocator.buffer(capacity: 40_000)
        first.writeBytes(pattern(40_000))
        var second = first
        second.setBytes([0xFF], at: 0)
        #expect(first.getInteger(at: 0, as: UInt8.self) == pattern(1)[0])
        #expect(second.getInteger(at: 0, as: UInt8.self) == 0xFF)
    }
}
