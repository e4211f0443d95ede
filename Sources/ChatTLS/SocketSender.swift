#if canImport(Glibc)
import Glibc
private let systemSend = Glibc.send
#elseif canImport(Darwin)
import Darwin
private let systemSend = Darwin.send
#endif
import NIOCore

/// Sends a connection's ciphertext with one `send(2)` of its own instead of handing it to the
/// channel, when nothing the channel was given is still waiting to be written.
///
/// Why: a broadcast is one small write to each of many connections, and through the channel
/// each costs a write and a flush down the pipeline, a place in NIO's queue of pending writes
/// and its bookkeeping — about 2 µs per delivery in user space on top of the syscall, as much
/// as the encryption (docs/PRIVATE-APIS.md). ``TLSServerHandler`` sends directly while the
/// channel's queue is empty and hands over whatever the socket did not take (or every byte,
/// after an error), so the channel's own writer keeps the order, the back-pressure and the
/// error handling from there on.
///
/// NIO does not expose a channel's descriptor, so it is read once from the channel's stored
/// socket by reflection and trusted only if the kernel agrees that it is this connection (its
/// local and peer addresses are the channel's). Where that fails — another channel type, or a
/// version of NIO laid out differently — the handler writes through the channel as before.
struct SocketSender {
    /// What one ``send(_:)`` did with the buffer.
    enum Outcome: Equatable {
        /// Every byte is in the kernel.
        case sent
        /// The socket's send buffer is full; the buffer holds what it did not take.
        case full
        /// The channel is closed or the socket failed; the buffer holds what was not sent.
        case failed
    }

    let descriptor: CInt
    /// Checked before each send: once NIO has closed the channel the descriptor may already
    /// belong to another connection.
    private let channel: any Channel

    /// The sender for `channel`'s socket, or nil when its descriptor cannot be found and
    /// verified.
    init?(channel: any Channel) {
        guard let socket = Self.storedProperty("socket", of: channel),
            let descriptor = Self.storedProperty("descriptor", of: socket) as? CInt,
            descriptor >= 0,
            let local = channel.localAddress, let remote = channel.remoteAddress,
            Self.kernelAddress(of: descriptor, peer: false, equals: local),
            Self.kernelAddress(of: descriptor, peer: true, equals: remote)
        else { return nil }
        self.descriptor = descriptor
        self.channel = channel
    }

    /// Sends the readable bytes of `buffer`, consuming what the kernel took.
    func send(_ buffer: inout ByteBuffer) -> Outcome {
        guard channel.isActive else { return .failed }
        while buffer.readableBytes > 0 {
            let sent = buffer.withUnsafeReadableBytes { bytes in
                // MSG_NOSIGNAL: a reset peer is an EPIPE here, not a signal to the process.
                systemSend(descriptor, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL))
            }
            if sent > 0 {
                buffer.moveReaderIndex(forwardBy: sent)
                continue
            }
            guard sent < 0 else { return .failed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .full
            default: return .failed
            }
        }
        return .sent
    }

    /// A stored property of `subject` (or of one of its superclasses) by name.
    private static func storedProperty(_ name: String, of subject: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: subject)
        while let current = mirror {
            if let child = current.children.first(where: { $0.label == name }) { return child.value }
            mirror = current.superclassMirror
        }
        return nil
    }

    /// Whether the kernel's local (or peer) address of `descriptor` is `expected`.
    private static func kernelAddress(of descriptor: CInt, peer: Bool, equals expected: SocketAddress) -> Bool {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                peer ? getpeername(descriptor, address, &length) : getsockname(descriptor, address, &length)
            }
        }
        guard result == 0 else { return false }
        return expected.withSockAddr { address, size in
            guard size == Int(length) else { return false }
            return withUnsafeBytes(of: &storage) { memcmp($0.baseAddress!, address, size) == 0 }
        }
    }
}
