import ChatCompression
import ChatProtocol
import NIOCore
import Testing

@Suite struct FrameCompressionTests {
    private func frame(_ content: String) -> ByteBuffer {
        FrameCoding.encode(Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 1_700_000_000, content: content)]))
    }

    private func payloads(_ frames: ByteBuffer) -> [ByteBuffer] {
        var reader = frames
        var result: [ByteBuffer] = []
        while let length = reader.readInteger(as: UInt32.self), let payload = reader.readSlice(length: Int(length)) {
            result.append(payload)
        }
        #expect(reader.readableBytes == 0)
        return result
    }

    @Test func aLongFrameIsCompressedAndInflatesToTheSameJSON() throws {
        let text = String(repeating: "the deploy is on friday after the standup, ", count: 40)
        let original = frame(text)
        let compressed = FrameCompression.compressFrames(original)
        let payload = try #require(payloads(compressed).first)
        #expect(FrameCompression.isCompressed(payload))
        #expect(payload.readableBytes < original.readableBytes / 5)
        let inflated = try FrameCompression.inflate(payload, maximumLength: 1 << 20)
        #expect(inflated == payloads(original).first)
    }

    /// Large payloads go through a second stream (the fastest level): one deflater, used for
    /// small and large frames in turn, gives each back intact.
    @Test func oneDeflaterCompressesSmallAndLargeFramesInTurn() throws {
        let deflater = FrameDeflater()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let repeats = round % 2 == 0 ? 200 : 8_000
            let text = (0..<repeats).map { _ in ["deploy", "friday", "standup", "review"].randomElement(using: &generator)! }.joined(separator: " ")
            let original = frame(text)
            #expect((original.readableBytes >= FrameDeflater.largePayload) == (round % 2 == 1))
            let compressed = FrameCompression.compressFrames(original, using: deflater)
            let payload = try #require(payloads(compressed).first)
            #expect(FrameCompression.isCompressed(payload))
            #expect(payload.readableBytes < original.readableBytes / 2)
            #expect(try FrameCompression.inflate(payload, maximumLength: 1 << 20) == payloads(original).first)
        }
    }

    @Test func shortAndIncompressibleFramesGoAsTheyAre() {
        let short = frame("hi")
        #expect(FrameCompression.compressFrames(short) == short)
        var generator = SystemRandomNumberGenerator()
        var noise = ByteBuffer()
        noise.writeBytes((0..<2000).map { _ in UInt8.random(in: 1...255, using: &generator) })
        #expect(FrameCompression.compressedPayload(noise) == nil, "compressing would not save a tenth")
    }

    @Test func mixedFramesKeepTheirOrder() throws {
        let long = String(repeating: "lorem ipsum dolor sit amet ", count: 30)
        var frames = frame("first")
        var second = frame(long)
        var third = frame("third")
        frames.writeBuffer(&second)
        frames.writeBuffer(&third)
        let out = payloads(FrameCompression.compressFrames(frames))
        #expect(out.count == 3)
        #expect(out.map(FrameCompression.isCompressed) == [false, true, false])
        let middle = try FrameCompression.inflate(out[1], maximumLength: 1 << 20)
        #expect(try FrameCoding.decode(middle, strictness: .strict).frame.messages?.first?.content == long)
        #expect(try FrameCoding.decode(out[2], strictness: .strict).frame.messages?.first?.content == "third")
    }

    @Test func inflatingIsBoundedAndCorruptDataIsRefused() throws {
        let bomb = frame(String(repeating: "a", count: 200_000))
        let payload = try #require(payloads(FrameCompression.compressFrames(bomb)).first)
        #expect(payload.readableBytes < 1_000)
        #expect(throws: FrameCompression.InflateError.tooLarge(maximumLength: 65_536)) {
            try FrameCompression.inflate(payload, maximumLength: 65_536)
        }
        var corrupt = ByteBuffer()
        corrupt.writeBytes([0, 0xFF, 0xFE, 0x01, 0x02])
        #expect(throws: FrameCompression.InflateError.corrupt) {
            try FrameCompression.inflate(corrupt, maximumLength: 65_536)
        }
    }
}
