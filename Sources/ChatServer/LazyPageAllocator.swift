#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(CustomByteBufferAllocator) import NIOCore

/// The byte buffer allocator of client connections: large buffers get their own anonymous
/// mapping, whose pages cost memory only once they are written.
///
/// Why: NIOSSL gives every connection a 32 KiB read buffer and a 16 KiB write buffer for its
/// whole life, and an idle chat connection only ever touches the first page of each. From the
/// heap, reused memory is resident at once — 48 KiB per connection, three times what the
/// connection itself needs. From `mmap`, an idle connection's buffers cost two pages.
///
/// Every block starts with a 16-byte header saying where it came from and how large it is, so
/// that a pointer can be freed and resized without a lookup; the caller sees the bytes after
/// it (still 16-byte aligned).
enum LazyPageAllocator {
    /// The allocator to give client channels.
    static let allocator = ByteBufferAllocator(
        allocate: { size in LazyPageAllocator.allocate(size) },
        reallocate: { pointer, oldSize, newSize in LazyPageAllocator.reallocate(pointer, oldSize, newSize) },
        deallocate: { pointer in LazyPageAllocator.deallocate(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// Blocks of this size and larger are mapped; smaller ones come from malloc.
    static let mappedThreshold = 16 * 1024
    static let headerSize = 16
    static let mappedTag: UInt64 = 0x4C41_5A59_4D41_5050  // "LAZYMAPP"
    private static let heapTag: UInt64 = 0x4C41_5A59_4845_4150  // "LAZYHEAP"

    static func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let total = size + headerSize
        let base: UnsafeMutableRawPointer
        let tag: UInt64
        if size >= mappedThreshold {
            let mapped = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let mapped, mapped != MAP_FAILED else { return nil }
            (base, tag) = (mapped, mappedTag)
        } else {
            guard let allocated = malloc(total) else { return nil }
            (base, tag) = (allocated, heapTag)
        }
        base.storeBytes(of: tag, as: UInt64.self)
        base.storeBytes(of: UInt64(total), toByteOffset: 8, as: UInt64.self)
        return base + headerSize
    }

    static func reallocate(_ pointer: UnsafeMutableRawPointer?, _ oldSize: Int, _ newSize: Int) -> UnsafeMutableRawPointer? {
        guard let pointer else { return allocate(newSize) }
        let base = pointer - headerSize
        let newTotal = newSize + headerSize
        if base.load(as: UInt64.self) == heapTag, newSize < mappedThreshold {
            guard let moved = realloc(base, newTotal) else { return nil }
            moved.storeBytes(of: UInt64(newTotal), toByteOffset: 8, as: UInt64.self)
            return moved + headerSize
        }
        // A mapped block (mremap is variadic, so not callable from Swift), or crossing the
        // threshold: a fresh block, the bytes copied over.
        guard let fresh = allocate(newSize) else { return nil }
        fresh.copyMemory(from: pointer, byteCount: min(oldSize, newSize))
        deallocate(pointer)
        return fresh
    }

    static func deallocate(_ pointer: UnsafeMutableRawPointer) {
        let base = pointer - headerSize
        if base.load(as: UInt64.self) == mappedTag {
            munmap(base, Int(base.load(fromByteOffset: 8, as: UInt64.self)))
        } else {
            free(base)
        }
    }
}
