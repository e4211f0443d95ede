import ChatProtocol
import NIOCore

/// The chat protocol a benchmark speaks: Chatterbox's frames, or enough IRC to join one
/// channel and fan out PRIVMSGs (for comparison with IRC servers).
public enum BenchProtocol: String, Sendable, CaseIterable, Codable {
    case chatterbox
    case irc

    /// Whether the sender gets its own broadcast back (Chatterbox echoes; IRC does not).
    var echoesToSender: Bool { self == .chatterbox }
}

/// Builds the bytes a benchmark client sends.
enum BenchWire {
    static let channel = "#bench"

    static func login(_ name: String, protocol: BenchProtocol) -> ByteBuffer {
        switch `protocol` {
        case .chatterbox:
            return FrameCoding.encode(Frame(username: name))
        case .irc:
            return ByteBuffer(string: "NICK \(name)\r\nUSER \(name) 0 * :bench\r\n")
        }
    }

    static func join(protocol: BenchProtocol) -> ByteBuffer? {
        `protocol` == .irc ? ByteBuffer(string: "JOIN \(channel)\r\n") : nil
    }

    /// One broadcast whose content starts with the marker the receivers parse:
    /// `B<sender>-<sequence>-<intended send time in ns>-` and padding to `contentLength`.
    static func broadcast(
        from name: String, sender: Int, sequence: Int, intendedNanos: UInt64, contentLength: Int,
        protocol: BenchProtocol, measured: Bool = true, into buffer: inout ByteBuffer
    ) {
        var content = measured ? "B\(sender)-\(sequence)-\(intendedNanos)-" : "flood \(sequence) "
        if content.utf8.count < contentLength {
            content += String(repeating: "x", count: contentLength - content.utf8.count)
        }
        switch `protocol` {
        case .chatterbox:
            let message = ChatMessage(source: name, destination: ChatMessage.broadcastDestination, timestamp: Int64(intendedNanos / 1_000_000_000), content: content)
            FrameCoding.write(Frame(messages: [message]), into: &buffer)
        case .irc:
            buffer.writeString("PRIVMSG \(channel) :\(content)\r\n")
        }
    }

    /// The intended send time of the benchmark broadcast in `bytes`, if it holds one.
    static func intendedNanos(in bytes: UnsafeRawBufferPointer) -> UInt64? {
        // Find "B<digits>-<digits>-<digits>-": the marker opens the content.
        var index = 0
        let count = bytes.count
        while index < count {
            guard let start = (index..<count).first(where: { bytes[$0] == UInt8(ascii: "B") }) else { return nil }
            var cursor = start + 1
            var fields: [UInt64] = []
            fields.reserveCapacity(3)
            while fields.count < 3 {
                var value: UInt64 = 0
                let digitsStart = cursor
                while cursor < count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
                    value = value &* 10 &+ UInt64(bytes[cursor] - UInt8(ascii: "0"))
                    cursor += 1
                }
                guard cursor > digitsStart, cursor < count, bytes[cursor] == UInt8(ascii: "-") else { break }
                fields.append(value)
                cursor += 1
            }
            if fields.count == 3 { return fields[2] }
            index = start + 1
        }
        return nil
    }
}
