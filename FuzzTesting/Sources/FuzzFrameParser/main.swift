// libFuzzer target: the JSON parser and the frame/message validator.
// Oracles: no crash or hang; whatever parses re-encodes to pure ASCII that parses back to the
// same value; whatever decodes as a frame re-encodes and decodes to the same frame; the
// username and command rules never trap on any decoded string.
import ChatProtocol
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameParser(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)

    if let value = try? JSONParser.parse(input) {
        var written = ByteBuffer()
        JSONWriter.writeValue(value, into: &written)
        let bytes = Array(written.readableBytesView)
        precondition(bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "writer produced non-ASCII")
        guard let reparsed = try? JSONParser.parse(bytes) else {
            preconditionFailure("writer output does not parse: \(String(decoding: bytes, as: UTF8.self))")
        }
        precondition(reparsed == value, "JSON round trip changed the value")
    }

    let payload = ByteBuffer(bytes: input)
    for strictness in [FrameCoding.Strictness.strict, .lenient] {
        guard let decoded = try? FrameCoding.decode(payload, strictness: strictness) else { continue }
        let frame = decoded.frame
        let rules = UsernameRules()
        if let name = frame.username { _ = rules.problem(with: name) }
        for message in frame.messages ?? [] {
            _ = rules.problem(with: message.source)
            _ = ChatCommand.parse(message.content)
            _ = ChatCommand.literalText(message.content)
        }
        var encoded = FrameCoding.encode(frame)
        encoded.moveReaderIndex(forwardBy: 4)
        guard let again = try? FrameCoding.decode(encoded, strictness: strictness) else {
            preconditionFailure("re-encoded frame does not decode")
        }
        precondition(again.problems.isEmpty, "re-encoded frame has problems: \(again.problems)")
        precondition(again.frame == frame, "frame round trip changed the frame")
    }
    return 0
}
