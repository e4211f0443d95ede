public import ChatTLS

/// What can change while the server runs.
extension ChatServer {
    /// Serves `tls` (a renewed certificate, re-read on SIGHUP) to the connections accepted from
    /// now on; those open keep the certificate they were accepted with.
    /// - Throws: ``ReloadError/plaintextServer`` for a server started without TLS, which
    ///   cannot start encrypting its port while it runs.
    public func replaceTLS(_ tls: ServerTLSContext) throws {
        try currentTLS.withLockedValue { current in
            guard current != nil else { throw ReloadError.plaintextServer }
            current = tls
        }
    }
}

/// Why a setting could not change while the server runs.
public enum ReloadError: Error, CustomStringConvertible, Sendable {
    case plaintextServer

    public var description: String {
        switch self {
        case .plaintextServer: "the server was started without TLS (--plaintext); a restart is needed to serve TLS"
        }
    }
}
