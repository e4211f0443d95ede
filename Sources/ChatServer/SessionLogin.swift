import ChatProtocol
import NIOCore

/// What a session keeps only while it logs in: the frames the client sends and the hub
/// delivers before the login reply has gone out, and the login clock. Empty once the session
/// is live (or closed).
struct SessionLogin {
    /// Frames the hub delivered while the login reply was not yet sent, in order.
    private(set) var heldBack: [ByteBuffer] = []
    /// Their bytes, bounded by the outbound budget's cap.
    private(set) var heldBackBytes = 0
    /// Frames the client sent while its login was completing, handled once it is live (or
    /// once it is back to awaiting a login).
    private var earlyFrames: [Frame] = []
    /// Closes a connection that has not logged in within the timeout (slowloris).
    var deadline: Scheduled<Void>?

    var earlyFrameCount: Int { earlyFrames.count }

    /// Keeps a frame the client sent before its login completed.
    mutating func keepEarly(_ frame: Frame) {
        earlyFrames.append(frame)
    }

    /// The oldest frame kept with ``keepEarly(_:)``, if any, taken.
    mutating func takeEarlyFrame() -> Frame? {
        earlyFrames.isEmpty ? nil : earlyFrames.removeFirst()
    }

    /// Every frame kept with ``keepEarly(_:)``, taken.
    mutating func takeEarlyFrames() -> [Frame] {
        defer { earlyFrames = [] }
        return earlyFrames
    }

    /// Holds back a delivered frame until the login reply is sent; the bytes now held back.
    mutating func holdBack(_ frame: ByteBuffer) -> Int {
        heldBack.append(frame)
        heldBackBytes += frame.readableBytes
        return heldBackBytes
    }

    /// Forgets the frames held back (a login abandoned, or sent: ``heldBack`` was written).
    mutating func dropHeldBack() {
        heldBack = []
        heldBackBytes = 0
    }

    /// Forgets everything but the clock (the connection closed).
    mutating func clear() {
        dropHeldBack()
        earlyFrames = []
    }
}
