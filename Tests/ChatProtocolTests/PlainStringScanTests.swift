@testable import ChatProtocol
import NIOCore
import Testing

/// `JSONWriter.isPlain` reads eight bytes at a time: it must agree with the byte-by-byte rule
/// for every byte value at every position of a word and of the tail.
@Suite struct PlainStringScanTests {
    private func reference(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    @Test func everyByteValueAtEveryPositionIsJudgedAsOneByOne() {
        var disagreements: [String] = []
        for length in [1, 7, 8, 9, 16, 19] {
            for position in 0..<length {
                for value in UInt8.min...UInt8.max {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[position] = value
                    let scanned = bytes.withUnsafeBufferPointer(JSONWriter.isPlain)
                    if scanned != reference(bytes) { disagreements.append("length \(length), byte \(value) at \(position)") }
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func randomTextWithAnOccasionalSpecialByteIsJudgedAsOneByOne() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...70, using: &generator)).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
            if !bytes.isEmpty, Bool.random(using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = .random(in: 0...255, using: &generator)
            }
            let scanned = bytes.withUnsafeBufferPointer(JSONWriter.isPlain)
            #expect(scanned == reference(bytes), "\(bytes)")
        }
    }

    @Test func anEmptyBufferIsPlain() {
        #expect(JSONWriter.isPlain(UnsafeBufferPointer<UInt8>(start: nil, count: 0)))
    }
}
