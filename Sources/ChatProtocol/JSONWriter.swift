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
        let plain = string.withUTF8 { utf8 in
            utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
        if plain {
            buffer.writeString(string)
        } else {
            writeEscaped(string, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "\""))
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
        buffer.writeString(String(value))
    }

    /// The bytes ``writeString(_:into:)`` writes for `string`, counted without writing.
    public static func encodedSize(ofString string: String) -> Int {
        var string = string
        let plain = string.withUTF8 { utf8 in
            utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        }
        if plain { return string.utf8.count + 2 }
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
