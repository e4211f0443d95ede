/// A stable colour for each name, so a person is recognisable at a glance: the same name has
/// the same colour in every session and on every machine (case does not matter, as for the
/// server's names).
public enum NickColor {
    /// An index in `0..<paletteSize` for `name`.
    public static func index(for name: String, paletteSize: Int) -> Int {
        precondition(paletteSize > 0)
        // FNV-1a: Swift's own Hasher is seeded per process, which would change colours.
        var hash: UInt32 = 2_166_136_261
        for byte in name.lowercased().utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(paletteSize))
    }
}
