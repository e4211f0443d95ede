import ChatOperations
import ChatServer
import ChatTLS
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads on SIGHUP what can change while the server runs, until the server stops.
struct ReloadService: Service {
    let logger: Logger
    let reload: @Sendable () -> Void

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reloading")
            reload()
        }
    }
}

extension ServerCommand {
    /// Re-reads the certificate and key (after a renewal): connections accepted from now on, on
    /// the chat port and the HTTP listener, get the new certificate; open ones keep going. A
    /// certificate that cannot be used (half-written, a key that does not match) leaves the
    /// previous one in use.
    func reloadCertificate(_ files: CertificateFiles?, server: ChatServer, http: ReloadableTLSContext?, logger: Logger) {
        guard let files else {
            logger.notice("SIGHUP: no certificate to reload (--plaintext).")
            return
        }
        do {
            let engine = ServerTLSContext.Engine(rawValue: tlsEngine) ?? .direct
            let tls = try TLSContexts.server(
                certificateChainPath: files.chain, privateKeyPath: files.key, engine: engine, sendsToSocket: !pipelineWrites)
            try http?.reload()
            try server.replaceTLS(tls)
            logger.notice("SIGHUP: certificate \(files.chain) reloaded; new connections get it, open ones keep theirs.")
        } catch {
            logger.error("SIGHUP: certificate not reloaded, the previous one stays in use: \(error)")
        }
    }
}
