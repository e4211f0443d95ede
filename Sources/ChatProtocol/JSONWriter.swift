public import NIOCore

/// Writes JSON into a `ByteBuffer` as pure ASCII.
///
/// Every character outside printable ASCII is escaped (`\uXXXX`, with a surrogate pair for
/// characters beyond the Basic Multilingual Plane), so a peer that decodes frames as ASCII
/// still reads them correctly.
public enum JSONWriter {
    /// Appends `string` as a JSON string literal, quotes included.
    @inlinable
    public static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        var string = string
        // Printable ASCII without quotes or backslashes, the usual case: one copy, one
        // capacity check (byte by byte, a login's history of a thousand messages spent a
        // third of its time in the buffer's checks).
        let written = string.withUTF8 { utf8 -> Bool in
            guard isPlain(utf8) else { return false }
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: utf8.count + 2) { out in
                copyQuoted(utf8, to: out, at: 0)
            }
            return true
        }
        if !written {
            buffer.writeInteger(UInt8(ascii: "\""))
            writeEscaped(string, into: &buffer)
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }

    /// Whether `utf8` can be written between quotes as it is: printable ASCII without `"` or `\`.
    ///
    /// Eight bytes at a time (SWAR): every login replay and history page scans each message
    /// with it, and a byte-by-byte loop was a quarter of a saturated server's CPU under the
    /// mixed-attack soak (replays of large broadcasts); this is four times faster on 32 KB.
    @inlinable
    static func isPlain(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = utf8.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        let count = utf8.count
        var index = 0
        while index &+ 8 <= count {
            if !isPlainWord(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { return false }
            index &+= 8
        }
        while index < count {
            if !isPlainByte(base[index]) { return false }
            index &+= 1
        }
        return true
    }

    @inlinable
    static func isPlainByte(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    /// ``isPlainByte(_:)`` for the eight bytes of `word` at once. A byte's high bit set in
    /// `(v - 0x01..) & ~v & 0x80..` tells that some byte of `v` is zero, and with 0x20 in
    /// place of 0x01 that some byte is below 0x20 (Bit Twiddling Hacks: haszero, hasless);
    /// a byte equal to `c` is a zero byte of `v ^ c..`.
    @inlinable
    static func isPlainWord(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func hasZeroByte(_ value: UInt64) -> UInt64 { (value &- ones) & ~value & highBits }
        let nonASCII = word & highBits
        let control = (word &- ones &* 0x20) & ~word & highBits
        let special = hasZeroByte(word ^ (ones &* 0x7F)) | hasZeroByte(word ^ (ones &* 0x22)) | hasZeroByte(word ^ (ones &* 0x5C))
        return nonASCII | control | special == 0
    }

    /// Writes `utf8` in quotes at `offset`; returns the offset after it.
    @inlinable
    static func copyQuoted(_ utf8: UnsafeBufferPointer<UInt8>, to out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        out[offset] = UInt8(ascii: "\"")
        if let base = utf8.baseAddress, utf8.count > 0 {
            (out.baseAddress! + offset + 1).copyMemory(from: base, byteCount: utf8.count)
        }
        out[offset + utf8.count + 1] = UInt8(ascii: "\"")
        return offset + utf8.count + 2
    }

    /// Writes the decimal digits of `value` at `offset` (``encodedSize(ofInteger:)`` bytes);
    /// returns the offset after them.
    @inlinable
    static func copyInteger(_ value: Int64, to out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        let end = offset + encodedSize(ofInteger: value)
        var rest = value.magnitude
        var position = end
        repeat {
            position -= 1
            out[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0
        if value < 0 { out[offset] = UInt8(ascii: "-") }
        return end
    }

    @usableFromInline
    static func writeEscaped(_ string: String, into buffer: inout ByteBuffer) {
        for scalar in string.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x22: buffer.writeStaticString("\\\"")
            case 0x5C: buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x08: buffer.writeStaticString("\\b")
            case 0x0C: buffer.writeStaticString("\\f")
            case 0x20..<0x7F: buffer.writeInteger(UInt8(truncatingIfNeeded: value))
            case 0x10000...:
                let offset = value - 0x10000
                writeUnicodeEscape(UInt16(0xD800 + (offset >> 10)), into: &buffer)
                writeUnicodeEscape(UInt16(0xDC00 + (offset & 0x3FF)), into: &buffer)
            default:
                writeUnicodeEscape(UInt16(truncatingIfNeeded: value), into: &buffer)
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeUnicodeEscape(_ unit: UInt16, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\\u")
        buffer.writeInteger(hexDigits[Int(unit >> 12)])
        buffer.writeInteger(hexDigits[Int((unit >> 8) & 0xF)])
        buffer.writeInteger(hexDigits[Int((unit >> 4) & 0xF)])
        buffer.writeInteger(hexDigits[Int(unit & 0xF)])
    }

    /// Appends a decimal integer.
    @inlinable
    public static func writeInteger(_ value: Int64, into buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: encodedSize(ofInteger: value)) { out in
            copyInteger(value, to: out, at: 0)
        }
    }

    /// The bytes ``writeString(_:into:)`` writes for `string`, counted without writing.
    public static func encodedSize(ofString string: String) -> Int {
        var string = string
        if string.withUTF8(isPlain) { return string.utf8.count + 2 }
        var size = 2
        for scalar in string.unicodeScalars {
            switch scalar.value {
            case 0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: size += 2
            case 0x20..<0x7F: size += 1
            case 0x10000...: size += 12
            default: size += 6
            }
        }
        return size
    }

    /// The bytes ``writeInteger(_:into:)`` writes for `value`, counted without writing.
    @inlinable
    public static func encodedSize(ofInteger value: Int64) -> Int {
        var size = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            size += 1
        }
        return size
    }

    /// Appends an array of strings.
    public static func writeStringArray(_ strings: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (position, string) in strings.enumerated() {
            if position > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeString(string, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// Appends any JSON value.
    public static func writeValue(_ value: JSONValue, into buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("null")
        case .bool(let flag): buffer.writeStaticString(flag ? "true" : "false")
        case .integer(let integer): writeInteger(integer, into: &buffer)
        case .number(let double):
            // JSON has no NaN or infinity; the parser never produces them.
            buffer.writeString(double.isFinite ? "\(double)" : "null")
        case .string(let string): writeString(string, into: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                writeValue(element, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            buffer.writeInteger(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                writeString(member.key, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                writeValue(member.value, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }
}
