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

    /// Whether `utf8` can be written between quotes as it is.
    @inlinable
    static func isPlain(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
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
