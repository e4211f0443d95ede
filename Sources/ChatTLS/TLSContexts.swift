import Foundation
import NIOCore
public import NIOSSL

/// Builds the TLS settings both sides use: TLS 1.2 at least, forward-secret AEAD suites only.
public enum TLSContexts {
    /// TLS 1.2 suites allowed (TLS 1.3's suites are all modern and always on).
    static let modernTLS12CipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1"

    /// The server's TLS settings from a PEM certificate chain file and a PEM private key file.
    public static func server(
        certificateChainPath: String,
        privateKeyPath: String,
        engine: ServerTLSContext.Engine = .direct,
        sendsToSocket: Bool = true
    ) throws -> ServerTLSContext {
        try ServerTLSContext(
            certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath, engine: engine, sendsToSocket: sendsToSocket)
    }

    /// The same settings for an HTTPS listener (swift-nio-ssl's handler), offering HTTP/1.1
    /// by ALPN: the operators' listener, with the chat server's certificate.
    public static func httpServer(certificateChainPath: String, privateKeyPath: String) throws -> NIOSSLContext {
        try nioSSLServer(certificateChainPath: certificateChainPath, privateKeyPath: privateKeyPath, applicationProtocols: ["http/1.1"])
    }

    /// The same settings for swift-nio-ssl's server handler (``ServerTLSContext/Engine/nioSSL``).
    static func nioSSLServer(certificateChainPath: String, privateKeyPath: String, applicationProtocols: [String] = []) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateChainPath)
        guard !chain.isEmpty else {
            throw CertificateFileError(path: certificateChainPath, reason: "contains no PEM certificate")
        }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = modernTLS12CipherSuites
        configuration.shutdownTimeout = closeNotifyTimeout
        configuration.applicationProtocols = applicationProtocols
        return try NIOSSLContext(configuration: configuration)
    }

    /// How long a closing side waits for the peer's close_notify: a peer that has stopped
    /// reading must not hold a closed connection open for long.
    static let closeNotifyTimeout: TimeAmount = .seconds(1)

    /// How a client decides whether to trust the server.
    public enum ServerTrust: Sendable {
        /// The system's trust roots.
        case system
        /// Only the CA certificates in this PEM file (for example a server's generated `ca.crt`).
        case certificateAuthorityFile(String)
        /// No verification at all: explicit opt-out, vulnerable to interception.
        case insecure
    }

    /// A client context. Host name checking happens per connection (see ``serverHostname(for:)``).
    public static func client(trust: ServerTrust) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = modernTLS12CipherSuites
        switch trust {
        case .system:
            configuration.trustRoots = .default
        case .certificateAuthorityFile(let path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw CertificateFileError(path: path, reason: "cannot be read")
            }
            configuration.trustRoots = .file(path)
        case .insecure:
            configuration.certificateVerification = .none
        }
        configuration.shutdownTimeout = closeNotifyTimeout
        return try NIOSSLContext(configuration: configuration)
    }

    /// The SNI name to send for `host`: IP literals cannot be SNI names, and NIOSSL then checks
    /// the certificate's IP address entries instead.
    public static func serverHostname(for host: String) -> String? {
        var trimmed = host
        if trimmed.hasPrefix("["), trimmed.hasSuffix("]") { trimmed = String(trimmed.dropFirst().dropLast()) }
        if IPAddress(literal: trimmed) != nil || trimmed.contains("%") { return nil }
        return trimmed
    }
}
