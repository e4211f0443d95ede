import ChatTerminal
import Testing

@Suite struct NickColorTests {
    @Test func theSameNameAlwaysGetsTheSameColour() {
        // Fixed values: a colour must not change between runs or machines.
        #expect(NickColor.index(for: "alice", paletteSize: 12) == NickColor.index(for: "alice", paletteSize: 12))
        let known = ["alice", "bob", "carol", "dave", "erin"].map { NickColor.index(for: $0, paletteSize: 12) }
        #expect(known == Self.expected)
    }

    /// FNV-1a of the lower-cased UTF-8 name, modulo 12, computed independently.
    static let expected: [Int] = ["alice", "bob", "carol", "dave", "erin"].map { name in
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % 12)
    }

    @Test func caseDoesNotMatter() {
        #expect(NickColor.index(for: "Alice", paletteSize: 12) == NickColor.index(for: "alice", paletteSize: 12))
    }

    @Test func namesSpreadOverThePalette() {
        let used = Set((0..<200).map { NickColor.index(for: "user\($0)", paletteSize: 12) })
        #expect(used.count == 12)
        #expect(used.allSatisfy { (0..<12).contains($0) })
    }
}
