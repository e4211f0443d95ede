public import NIOCore

/// Why a frame's bytes could not be read as a frame at all.
public enum FrameDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The payload is not valid JSON.
    case invalidJSON(JSONParseError)
    /// The payload is JSON, but not an object.
    case notAnObject(String)

    public var description: String {
        switch self {
        case .invalidJSON(let error): "Frame is not valid JSON: \(error)"
        case .notAnObject(let type): "Frame must be a JSON object, got \(type)"
        }
    }
}

/// A frame read from the wire, plus what was wrong with parts of it.
///
/// A frame can be partly valid: one malformed message in `MESSAGES` does not spoil the others.
/// Malformed parts are left out of ``frame`` and described in ``problems``.
public struct DecodedFrame: Sendable, Equatable {
    public var frame: Frame
    /// One human-readable line per malformed part, naming the key and what was wrong.
    public var problems: [String]
    /// For a frame that arrived compressed (feature `deflate`): its payload's size on the
    /// wire, before inflating. `nil` for a frame sent as plain JSON.
    public var compressedLength: Int?
    /// Deviations from the protocol that lenient decoding accepted because their meaning was
    /// clear (`"USERNAME_ACCEPTED": "true"`), one line each. Always empty when strict.
    public var leniencies: [String] = []

    public init(frame: Frame, problems: [String] = [], compressedLength: Int? = nil) {
        self.frame = frame
        self.problems = problems
        self.compressedLength = compressedLength
    }
}

/// Reads and writes frame payloads (the JSON after the 4-byte length).
public enum FrameCoding {
    /// How forgiving to be about value types.
    public enum Strictness: Sendable {
        /// The letter of the protocol: TIMESTAMP must be a JSON integer. Used by the server.
        case strict
        /// Also accepts fractional or string timestamps, as some servers send. Used by clients.
        case lenient
    }

    /// Largest timestamp accepted: the largest integer every JSON implementation holds exactly.
    public static let maximumTimestamp: Int64 = 9_007_199_254_740_991

    // MARK: Encoding

    /// Appends a complete frame (length prefix and JSON) to `buffer`.
    public static func write(_ frame: Frame, into buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        writePayload(frame, into: &buffer)
        let length = buffer.writerIndex - lengthIndex - 4
        buffer.setInteger(UInt32(truncatingIfNeeded: length), at: lengthIndex)
    }

    /// Encodes a complete frame (length prefix and JSON) into a new buffer.
    public static func encode(_ frame: Frame, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacityEstimate(for: frame))
        write(frame, into: &buffer)
        return buffer
    }

    /// Room for what is known of `frame` up front, so that a frame of many messages (a login's
    /// history) is not reallocated again and again while it is written.
    public static func capacityEstimate(for frame: Frame) -> Int {
        var capacity = 64 + (frame.info?.utf8.count ?? 0)
        for message in frame.messages ?? [] {
            capacity += message.content.utf8.count + message.source.utf8.count + message.destination.utf8.count + 40
        }
        for name in frame.userList ?? [] {
            capacity += name.utf8.count + 3
        }
        return capacity
    }

    /// Appends only the JSON object of `frame`.
    public static func writePayload(_ frame: Frame, into buffer: inout ByteBuffer) {
        var first = true
        func key(_ name: StaticString) {
            buffer.writeStaticString(first ? "{\"" : ",\"")
            buffer.writeStaticString(name)
            buffer.writeStaticString("\":")
            first = false
        }
        if let username = frame.username {
            key("USERNAME")
            JSONWriter.writeString(username, into: &buffer)
        }
        if let accepted = frame.usernameAccepted {
            key("USERNAME_ACCEPTED")
            buffer.writeStaticString(accepted ? "true" : "false")
        }
        if let info = frame.info {
            key("INFO")
            JSONWriter.writeString(info, into: &buffer)
        }
        if let users = frame.userList {
            key("USER_LIST")
            JSONWriter.writeStringArray(users, into: &buffer)
        }
        if let messages = frame.messages {
            key("MESSAGES")
            writeMessages(messages, into: &buffer)
        }
        if let joined = frame.usersJoined {
            key("USERS_JOINED")
            JSONWriter.writeStringArray(joined, into: &buffer)
        }
        if let left = frame.usersLeft {
            key("USERS_LEFT")
            JSONWriter.writeStringArray(left, into: &buffer)
        }
        if let error = frame.error {
            key("ERROR")
            JSONWriter.writeString(error, into: &buffer)
        }
        for member in frame.extensions {
            buffer.writeStaticString(first ? "{" : ",")
            first = false
            JSONWriter.writeString(member.key, into: &buffer)
            buffer.writeInteger(UInt8(ascii: ":"))
            JSONWriter.writeValue(member.value, into: &buffer)
        }
        buffer.writeStaticString(first ? "{}" : "}")
    }

    /// Appends a JSON array of message 4-tuples.
    public static func writeMessages(_ messages: [ChatMessage], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (position, message) in messages.enumerated() {
            if position > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeMessage(message, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// Appends one message as `[SRC,DEST,TIMESTAMP,CONTENT]`.
    public static func writeMessage(_ message: ChatMessage, into buffer: inout ByteBuffer) {
        // The usual message, all printable ASCII: written in one go.
        var source = message.source
        var destination = message.destination
        var content = message.content
        let written = source.withUTF8 { source in
            destination.withUTF8 { destination in
                content.withUTF8 { content -> Bool in
                    guard JSONWriter.isPlain(source), JSONWriter.isPlain(destination), JSONWriter.isPlain(content) else { return false }
                    let size = 11 + source.count + destination.count + content.count + JSONWriter.encodedSize(ofInteger: message.timestamp)
                    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                        out[0] = UInt8(ascii: "[")
                        var offset = JSONWriter.copyQuoted(source, to: out, at: 1)
                        out[offset] = UInt8(ascii: ",")
                        offset = JSONWriter.copyQuoted(destination, to: out, at: offset + 1)
                        out[offset] = UInt8(ascii: ",")
                        offset = JSONWriter.copyInteger(message.timestamp, to: out, at: offset + 1)
                        out[offset] = UInt8(ascii: ",")
                        offset = JSONWriter.copyQuoted(content, to: out, at: offset + 1)
                        out[offset] = UInt8(ascii: "]")
                        return offset + 1
                    }
                    return true
                }
            }
        }
        if written { return }
        buffer.writeInteger(UInt8(ascii: "["))
        JSONWriter.writeString(message.source, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ","))
        JSONWriter.writeString(message.destination, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ","))
        JSONWriter.writeInteger(message.timestamp, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ","))
        JSONWriter.writeString(message.content, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// The number of bytes `message` takes inside a `MESSAGES` array (without the comma).
    public static func encodedSize(of message: ChatMessage) -> Int {
        // Brackets and three commas around the four fields.
        5 + JSONWriter.encodedSize(ofString: message.source) + JSONWriter.encodedSize(ofString: message.destination)
            + JSONWriter.encodedSize(ofInteger: message.timestamp) + JSONWriter.encodedSize(ofString: message.content)
    }

    // MARK: Decoding

    /// Decodes one frame payload (the JSON object, without the length prefix).
    public static func decode(
        _ payload: ByteBuffer,
        strictness: Strictness = .strict
    ) throws(FrameDecodingError) -> DecodedFrame {
        let value: JSONValue
        do {
            value = try payload.withUnsafeReadableBytes { bytes throws(JSONParseError) in try JSONParser.parse(bytes) }
        } catch {
            throw .invalidJSON(error)
        }
        return try decode(value, strictness: strictness)
    }

    /// Builds a frame from an already parsed JSON value.
    public static func decode(
        _ value: JSONValue,
        strictness: Strictness = .strict
    ) throws(FrameDecodingError) -> DecodedFrame {
        guard case .object(let object) = value else { throw .notAnObject(value.typeDescription) }
        var decoded = DecodedFrame(frame: Frame())
        for member in object.members {
            decodeMember(member, strictness: strictness, into: &decoded)
        }
        return decoded
    }

    private static func decodeMember(_ member: JSONObject.Member, strictness: Strictness, into decoded: inout DecodedFrame) {
        let value = member.value
        func mismatch(_ expected: String) {
            decoded.problems.append("\(member.key) must be \(expected), got \(value.typeDescription)")
        }
        switch member.key {
        case Frame.Key.username:
            if case .string(let name) = value { decoded.frame.username = name } else { mismatch("a string") }
        case Frame.Key.usernameAccepted:
            if case .bool(let flag) = value {
                decoded.frame.usernameAccepted = flag
            } else if strictness == .lenient, let flag = lenientBool(value) {
                // Several servers of this protocol send "true" (a string): the meaning is clear.
                decoded.frame.usernameAccepted = flag
                decoded.leniencies.append("USERNAME_ACCEPTED as \(value.typeDescription) instead of true or false")
            } else {
                mismatch("true or false")
            }
        case Frame.Key.info:
            if case .string(let info) = value {
                decoded.frame.info = info
            } else if strictness == .lenient, value != .null {
                decoded.frame.info = describeLeniently(value)
                decoded.leniencies.append("INFO as \(value.typeDescription) instead of a string")
            } else {
                mismatch("a string")
            }
        case Frame.Key.error:
            if case .string(let error) = value {
                decoded.frame.error = error
            } else if strictness == .lenient {
                decoded.frame.error = describeLeniently(value)
            } else {
                mismatch("a string")
            }
        case Frame.Key.userList:
            decoded.frame.userList = decodeNames(value, key: member.key, into: &decoded)
        case Frame.Key.usersJoined:
            decoded.frame.usersJoined = decodeNames(value, key: member.key, into: &decoded)
        case Frame.Key.usersLeft:
            decoded.frame.usersLeft = decodeNames(value, key: member.key, into: &decoded)
        case Frame.Key.messages:
            guard case .array(let elements) = value else {
                mismatch("an array of [SRC, DEST, TIMESTAMP, CONTENT] messages")
                return
            }
            var messages: [ChatMessage] = []
            messages.reserveCapacity(elements.count)
            for (position, element) in elements.enumerated() {
                switch decodeMessage(element, strictness: strictness) {
                case .success(let message): messages.append(message)
                case .failure(let problem): decoded.problems.append("MESSAGES[\(position)]: \(problem.reason)")
                }
            }
            decoded.frame.messages = messages
        default:
            decoded.frame.extensions.append(member)
        }
    }

    private static func decodeNames(_ value: JSONValue, key: String, into decoded: inout DecodedFrame) -> [String]? {
        guard case .array(let elements) = value else {
            decoded.problems.append("\(key) must be an array of strings, got \(value.typeDescription)")
            return nil
        }
        var names: [String] = []
        for (position, element) in elements.enumerated() {
            if case .string(let name) = element {
                names.append(name)
            } else {
                decoded.problems.append("\(key)[\(position)] must be a string, got \(element.typeDescription)")
            }
        }
        return names
    }

    /// Why one message element is malformed.
    public struct MessageProblem: Error, Sendable, Equatable {
        public var reason: String
    }

    /// Reads one `[SRC, DEST, TIMESTAMP, CONTENT]` element.
    public static func decodeMessage(_ value: JSONValue, strictness: Strictness) -> Result<ChatMessage, MessageProblem> {
        guard case .array(let fields) = value else {
            return .failure(.init(reason: "a message must be an array [SRC, DEST, TIMESTAMP, CONTENT], got \(value.typeDescription)"))
        }
        guard fields.count == 4 else {
            return .failure(.init(reason: "a message must have exactly 4 elements [SRC, DEST, TIMESTAMP, CONTENT], got \(fields.count)"))
        }
        guard case .string(let source) = fields[0] else {
            return .failure(.init(reason: "SRC must be a string, got \(fields[0].typeDescription)"))
        }
        guard case .string(let destination) = fields[1] else {
            return .failure(.init(reason: "DEST must be a string, got \(fields[1].typeDescription)"))
        }
        let timestamp: Int64
        switch (fields[2], strictness) {
        case (.integer(let value), _):
            timestamp = value
        case (.number(let value), .lenient) where value.isFinite && abs(value) < 9.2e18:
            timestamp = Int64(value.rounded(.down))
        case (.string(let text), .lenient) where Double(text) != nil && abs(Double(text)!) < 9.2e18:
            timestamp = Int64(Double(text)!.rounded(.down))
        default:
            return .failure(.init(reason: "TIMESTAMP must be an integer (seconds since the epoch), got \(fields[2].typeDescription)"))
        }
        if strictness == .strict, !(0...maximumTimestamp).contains(timestamp) {
            return .failure(.init(reason: "TIMESTAMP \(timestamp) is out of range (0...\(maximumTimestamp))"))
        }
        guard case .string(let content) = fields[3] else {
            return .failure(.init(reason: "CONTENT must be a string, got \(fields[3].typeDescription)"))
        }
        return .success(ChatMessage(source: source, destination: destination, timestamp: timestamp, content: content))
    }

    /// `"true"`/`"false"` (any case, spaces around) and 1/0 as booleans; anything else is not.
    private static func lenientBool(_ value: JSONValue) -> Bool? {
        switch value {
        case .string(let text):
            switch String(text.filter { !$0.isWhitespace }).lowercased() {
            case "true": return true
            case "false": return false
            default: return nil
            }
        case .integer(1): return true
        case .integer(0): return false
        default: return nil
        }
    }

    private static func describeLeniently(_ value: JSONValue) -> String {
        var buffer = ByteBuffer()
        JSONWriter.writeValue(value, into: &buffer)
        return String(buffer: buffer)
    }
}
