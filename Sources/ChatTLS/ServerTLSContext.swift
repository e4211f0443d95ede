// BoringSSL as vendored by swift-nio-ssl. Not that package's API, but the same library its
// handler drives; the server's own TLS handler needs the `SSL` object directly (see
// TLSServerHandler for why).
internal import CNIOBoringSSL
public import NIOCore
import NIOSSL

/// The server's TLS settings: certificate chain, key and protocol policy, shared by every
/// connection.
///
/// Connections are served by ``TLSServerHandler`` (the default), which drives BoringSSL itself,
/// or by swift-nio-ssl's `NIOSSLServerHandler` (``Engine/nioSSL``), kept so the two can be
/// measured side by side.
public final class ServerTLSContext: @unchecked Sendable {
    /// Which channel handler terminates TLS.
    public enum Engine: String, Sendable, CaseIterable {
        /// ``TLSServerHandler``: no buffers held between reads and writes, one hop per write.
        case direct
        /// swift-nio-ssl's `NIOSSLServerHandler`.
        case nioSSL = "niossl"
    }

    /// The handler new connections get.
    public let engine: Engine
    /// Whether ``TLSServerHandler`` sends ciphertext to the socket itself while the channel has
    /// nothing queued (``SocketSender``), or always down the pipeline (kept to measure both).
    public let sendsToSocket: Bool
    // `SSL_CTX` is reference counted and safe to share across threads once configured.
    let context: OpaquePointer
    private let nioSSLContext: NIOSSLContext?

    /// Loads a PEM certificate chain (leaf first) and its PEM private key.
    public init(certificateChainPath: String, privateKeyPath: String, engine: Engine = .direct, sendsToSocket: Bool = true) throws {
        self.engine = engine
        self.sendsToSocket = sendsToSocket
        self.nioSSLContext =
            engine == .nioSSL
            ? try TLSContexts.nioSSLServer(certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath)
            : nil
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw TLSServerError.library(Self.lastError(or: "cannot create an SSL_CTX"))
        }
        self.context = context
        // From here on deinit frees the context if a step below throws.
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainPath) == 1 else {
            throw CertificateFileError(path: certificateChainPath, reason: Self.lastError(or: "contains no usable PEM certificate chain"))
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw CertificateFileError(path: privateKeyPath, reason: Self.lastError(or: "contains no usable PEM private key"))
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw CertificateFileError(path: privateKeyPath, reason: "does not match the certificate in \(certificateChainPath)")
        }
        // The same policy as the client side (TLSContexts): TLS 1.2 at least, forward-secret
        // AEAD suites only (TLS 1.3's suites are all of that kind and always on).
        guard SSL_CTX_set_min_proto_version(context, UInt16(TLS1_2_VERSION)) == 1,
            SSL_CTX_set_cipher_list(context, TLSContexts.modernTLS12CipherSuites) == 1
        else {
            throw TLSServerError.library(Self.lastError(or: "cannot apply the protocol policy"))
        }
        // No session cache and no tickets: a chat connection lives long and reconnects rarely,
        // and a cache is memory held for clients that may never come back.
        SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF)
        SSL_CTX_set_options(context, UInt32(SSL_OP_NO_TICKET))
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A new handler for one accepted connection, of this context's ``engine``.
    public func makeHandler() -> any ChannelHandler {
        if let nioSSLContext {
            return NIOSSLServerHandler(context: nioSSLContext)
        }
        return TLSServerHandler(context: self)
    }

    /// BoringSSL's description of the error at the head of this thread's queue.
    static func lastError(or fallback: String) -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return fallback }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A TLS failure on the server side.
public enum TLSServerError: Error, CustomStringConvertible, Sendable {
    /// BoringSSL refused a setting or could not allocate.
    case library(String)
    /// The peer broke the protocol (bad handshake, bad record, unexpected message).
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .library(let text): "TLS library error: \(text)"
        case .protocolViolation(let text): "TLS error: \(text)"
        }
    }
}
