/// Makes text from other users safe to print on a terminal: no control characters, escape
/// sequences or bidirectional overrides reach the terminal, so nobody can move the cursor,
/// change the title, or make one line look like another.
public enum TerminalSanitizer {
    /// Returns `text` with every control character shown as a visible token (`^[`, `<U+202E>`)
    /// and line breaks kept as `\n` only when `keepNewlines` is set.
    public static func sanitize(_ text: String, keepNewlines: Bool = false) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A where keepNewlines:
                output.unicodeScalars.append(scalar)
            case 0x09:
                output += "    "
            case 0x00..<0x20:
                // Caret notation: ESC becomes ^[, NUL ^@, CR ^M.
                output += "^" + String(Unicode.Scalar(UInt8(scalar.value) + 0x40))
            case 0x7F:
                output += "^?"
            case 0x80..<0xA0, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C, 0x2028, 0x2029, 0xFEFF:
                output += "<U+\(hex(scalar.value))>"
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
