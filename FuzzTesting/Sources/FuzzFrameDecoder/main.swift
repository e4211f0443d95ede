// libFuzzer target: the length-prefixed frame decoder, fed the input in chunks of varying size.
// Invariants: no crash, every frame within the maximum, frames are exactly what the stream
// holds, an oversized header is refused before its length is buffered.
import ChatProtocol
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    guard let first = input.first else { return 0 }
    // The first byte picks the chunk size, so the fuzzer explores split frames too.
    let chunkSize = Int(first % 17) + 1
    let maximum = 4096
    var decoder = FrameDecoder(maximumFrameLength: maximum)
    var buffer = ByteBuffer()
    var consumed = 0
    var offset = 1
    while offset < count {
        let end = min(count, offset + chunkSize)
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
        offset = end
        while true {
            let frame: ByteBuffer?
            do {
                frame = try decoder.decode(buffer: &buffer)
            } catch let error as FrameTooLargeError {
                precondition(Int(error.declaredLength) > maximum, "refused a frame within the limit")
                // Refused from the header alone: the buffer never holds that frame.
                precondition(buffer.readableBytes <= count, "buffered beyond the input")
                return 0
            } catch {
                preconditionFailure("unexpected error \(error)")
            }
            guard let frame else { break }
            precondition(frame.readableBytes <= maximum, "frame larger than the maximum")
            consumed += 4 + frame.readableBytes
            // Whatever a frame holds must be safe to parse.
            _ = try? FrameCoding.decode(frame, strictness: .strict)
        }
    }
    precondition(consumed + buffer.readableBytes == count - 1, "bytes lost or invented")
    return 0
}
