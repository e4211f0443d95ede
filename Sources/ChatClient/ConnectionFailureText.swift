import Foundation
import NIOCore
import Synchronization
import NIOSSL

/// Turns what the TLS library and the sockets say into what went wrong and what to do, for
/// a person: "the server's certificate is not trusted: pass -ca …" rather than
/// `sslError([Error: 268435581 … CERTIFICATE_VERIFY_FAILED …])`.
enum ConnectionFailureText {
    /// The explanation of `error` met while connecting to `host` with `security`, and whether
    /// trying again could help (a certificate that is not trusted stays so; a refused
    /// connection may not).
    /// `received`: the first bytes the server sent, when known (see ``FirstBytesRecorder``).
    static func explain(_ error: any Error, host: String, security: ConnectionSecurity, received: [UInt8] = []) -> (text: String, isFatal: Bool) {
        if let mismatch = error as? ProtocolMismatch { return (mismatch.description, true) }
        let raw = String(describing: error)
        if case .tls = security, let first = received.first, !(20...23).contains(first) {
            // Not a TLS record: a plain chat server answers with a frame, whose 4-byte length
            // starts with 0 ("\0\0\0\x2a{\"ERROR\"…").
            return ("the server does not speak TLS (it may run with --plaintext): use --plaintext too, if you accept that everything then crosses the network unencrypted", true)
        }
        if raw.contains("CERTIFICATE_VERIFY_FAILED") {
            switch security {
            case .tls(.certificateAuthorityFile(let path)):
                return ("the server's certificate is not signed by the certificate authority in \(path): pass -ca with this server's own ca.crt (the server printed its path when it started; a server whose data directory was replaced has a new one)", true)
            default:
                return ("the server's certificate is not trusted: pass -ca with the server's ca.crt (the server printed its path when it started), or --insecure to skip the check (anyone on the way could then read along)", true)
            }
        }
        if raw.contains("failedToValidateHostname") || raw.contains("serverHostnameImpossibleToMatch") {
            return ("the server's certificate does not name \(host): connect with one of the names it has (the server prints a client command for each when it starts), or restart the server with --cert-name \(host)", true)
        }
        if raw.contains("NO_CERTIFICATE_OR_CRL_FOUND") || raw.contains("failedToLoadCertificate") {
            if case .tls(.certificateAuthorityFile(let path)) = security {
                return ("\(path) holds no certificate: -ca takes the server's ca.crt, a PEM file that starts with -----BEGIN CERTIFICATE-----", true)
            }
            return ("no certificate could be loaded to check the server with", true)
        }
        if raw.contains("WRONG_VERSION_NUMBER") || raw.contains("HTTP_REQUEST") || raw.contains("PACKET_LENGTH_TOO_LONG")
            || raw.contains("RECORD_LENGTH_MISMATCH") || raw.contains("UNEXPECTED_RECORD") {
            return ("the server does not speak TLS (it may run with --plaintext): use --plaintext too, if you accept that everything then crosses the network unencrypted", true)
        }
        if raw.contains("EOF during handshake") {
            return ("the server closed the connection during the TLS handshake (it may not speak TLS: a server started with --plaintext needs --plaintext here too)", false)
        }
        if let ssl = error as? NIOSSLError {
            if case .uncleanShutdown = ssl { return ("the connection was cut off", false) }
            if case .handshakeFailed(let reason) = ssl { return ("the TLS handshake failed (\(reason))", false) }
            return ("\(ssl)", false)
        }
        // "Connection refused" rather than NIO's "connection reset (error set): …".
        if let io = error as? IOError { return (String(cString: strerror(io.errnoCode)), false) }
        return (raw, false)
    }
}

/// The server speaks TLS to a client that does not (`--plaintext`): what it sends is TLS
/// records, not frames.
struct ProtocolMismatch: Error, CustomStringConvertible {
    var description: String {
        "the server speaks TLS and this client was started with --plaintext: connect without --plaintext (and with -ca and the server's ca.crt)"
    }
}

/// In a plaintext connection, looks at the first bytes from the server: a TLS record
/// (content type 20–23, version 3.x) means the server speaks TLS, and its length field read
/// as a frame length would be hundreds of megabytes ("Frame of 352518400 bytes…").
final class PlaintextGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private var checked = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !checked else {
            context.fireChannelRead(data)
            return
        }
        let buffer = unwrapInboundIn(data)
        guard buffer.readableBytes >= 3 else {
            // Too little to tell; frames start with a length far below TLS's, so pass it on.
            context.fireChannelRead(data)
            return
        }
        checked = true
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: 3) ?? []
        if (20...23).contains(bytes[0]), bytes[1] == 3, bytes[2] <= 4 {
            context.fireErrorCaught(ProtocolMismatch())
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}

/// The first bytes a server sent, shared between the event loop that records them and the
/// task that connects.
final class ReceivedBytes: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// Keeps the first bytes the server sends, before TLS reads them: when the handshake fails
/// they tell a plain chat server (a frame) from a TLS one that refused.
final class FirstBytesRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    static let count = 8
    let received: ReceivedBytes
    private var done = false

    init(into received: ReceivedBytes) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !done {
            let buffer = unwrapInboundIn(data)
            let bytes = buffer.getBytes(at: buffer.readerIndex, length: min(Self.count, buffer.readableBytes)) ?? []
            done = received.bytes.withLock { received in
                received += bytes.prefix(Self.count - received.count)
                return received.count >= Self.count
            }
        }
        context.fireChannelRead(data)
    }
}
