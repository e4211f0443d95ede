public import ChatProtocol
public import NIOCore

/// Inputs for the micro-benchmarks, built once per process with the library's own encoder, so
/// that they are exactly what a Chatterbox peer puts on the wire.
public enum Fixtures {
    /// A broadcast shaped like the ones `chatterbox bench` sends (BenchProtocol.swift): a
    /// marker `B<sender>-<sequence>-<nanoseconds>-` padded with `x` to 100 bytes of content.
    public static func broadcast(sender: Int = 3, sequence: Int = 1234) -> ChatMessage {
        let nanos: UInt64 = 1_700_000_000_123_456_789
        var content = "B\(sender)-\(sequence)-\(nanos)-"
        content += String(repeating: "x", count: 100 - content.utf8.count)
        return ChatMessage(
            source: "sender\(sender)",
            destination: ChatMessage.broadcastDestination,
            timestamp: Int64(nanos / 1_000_000_000),
            content: content
        )
    }

    /// The same broadcast with 100 bytes of non-ASCII content, which the writer escapes.
    public static let unicodeBroadcast = ChatMessage(
        source: "sender3",
        destination: ChatMessage.broadcastDestination,
        timestamp: 1_700_000_000,
        content: String(repeating: "日本語 ", count: 10)
    )

    /// `{"MESSAGES":[[...]]}` with its 4-byte length prefix: 149 bytes.
    public static let messagesFrame: ByteBuffer = FrameCoding.encode(Frame(messages: [broadcast()]))

    /// The JSON of ``messagesFrame`` without the prefix.
    public static var messagesPayload: ByteBuffer {
        var frame = messagesFrame
        frame.moveReaderIndex(forwardBy: 4)
        return frame
    }

    /// 100 consecutive MESSAGES frames from 10 senders, in one buffer (one large TCP read).
    public static let hundredFrames: ByteBuffer = {
        var buffer = ByteBuffer()
        for index in 0..<100 {
            FrameCoding.write(Frame(messages: [broadcast(sender: index % 10, sequence: 1000 + index)]), into: &buffer)
        }
        return buffer
    }()

    /// The Chatterbox client's login (ChatSession.loginFrame): USERNAME and the FEATURES it asks for.
    public static let loginPayload: [UInt8] = Array(
        #"{"USERNAME":"alice","FEATURES":["commands","accounts","history","deflate","files"]}"#.utf8
    )

    /// The base protocol's login, as any assignment client sends it.
    public static let plainLoginPayload: [UInt8] = Array(#"{"USERNAME":"alice"}"#.utf8)
}
