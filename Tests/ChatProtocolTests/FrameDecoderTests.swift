import ChatProtocol
import NIOCore
import NIOEmbedded
import Testing

@Suite struct FrameDecoderTests {
    private func frame(_ json: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(json.utf8.count))
        buffer.writeString(json)
        return buffer
    }

    private func makeChannel(maximum: Int = FrameDecoder.defaultMaximumFrameLength) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: maximum)))
        return channel
    }

    private func readAll(_ channel: EmbeddedChannel) throws -> [String] {
        var frames: [String] = []
        while let payload = try channel.readInbound(as: ByteBuffer.self) {
            frames.append(String(buffer: payload))
        }
        return frames
    }

    @Test func reassemblesAFrameSplitAcrossReads() throws {
        let channel = try makeChannel()
        let bytes = frame(#"{"USERNAME":"alice"}"#)
        // Feed one byte at a time, including the length header.
        for index in 0..<bytes.readableBytes {
            try channel.writeInbound(bytes.getSlice(at: index, length: 1)!)
            if index < bytes.readableBytes - 1 {
                #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
            }
        }
        #expect(try readAll(channel) == [#"{"USERNAME":"alice"}"#])
        #expect(try channel.finish().isClean)
    }

    @Test func splitsManyFramesCoalescedInOneRead() throws {
        let channel = try makeChannel()
        var bytes = ByteBuffer()
        let payloads = (0..<100).map { #"{"INFO":"\#($0)"}"# }
        for payload in payloads {
            var one = frame(payload)
            bytes.writeBuffer(&one)
        }
        // A partial frame at the end stays buffered until the rest arrives.
        var partial = frame(#"{"INFO":"last"}"#)
        let head = partial.readSlice(length: 7)!
        var headCopy = head
        bytes.writeBuffer(&headCopy)
        try channel.writeInbound(bytes)
        #expect(try readAll(channel) == payloads)
        try channel.writeInbound(partial)
        #expect(try readAll(channel) == [#"{"INFO":"last"}"#])
    }

    @Test func zeroLengthFrameIsDeliveredEmpty() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0]))
        #expect(try readAll(channel) == [""])
    }

    @Test func rejectsOversizedLengthFromTheHeaderAlone() throws {
        let channel = try makeChannel(maximum: 1024)
        var header = ByteBuffer()
        header.writeInteger(UInt32.max)
        #expect(throws: FrameTooLargeError(declaredLength: .max, maximumLength: 1024)) {
            try channel.writeInbound(header)
        }
    }

    @Test func acceptsAFrameOfExactlyTheMaximum() throws {
        let channel = try makeChannel(maximum: 16)
        let json = #"{"INFO":"12345"}"#
        #expect(json.utf8.count == 16)
        try channel.writeInbound(frame(json))
        #expect(try readAll(channel) == [json])
        #expect(throws: FrameTooLargeError.self) {
            try channel.writeInbound(frame(#"{"INFO":"123456"}"#))
        }
    }
}
