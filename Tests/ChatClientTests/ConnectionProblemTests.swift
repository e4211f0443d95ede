import ChatClient
import ChatProtocol
import ChatTLS
import ChatTestSupport
import Foundation
import Testing

/// What goes wrong when connecting is said in words a person can act on, and what no retry
/// can mend stops the client instead of looping.
@Suite struct ConnectionProblemTests {
    private func connectionError(host: String = "127.0.0.1", port: Int, security: ConnectionSecurity) async -> ConnectionError? {
        do {
            let connection = try await ChatConnection.connect(host: host, port: port, security: security)
            try await connection.run { _, _ in }
            return nil
        } catch let error as ConnectionError {
            return error
        } catch {
            Issue.record("not a ConnectionError: \(error)")
            return nil
        }
    }

    @Test func certificateProblemsSayWhatToDo() async throws {
        let elsewhere = TemporaryDirectory()
        let other = try LocalCertificateAuthority.loadOrCreate(in: elsewhere.path)
        let empty = elsewhere.path + "/empty.pem"
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: empty))
        try await TestServer.with { server in
            let untrusted = await connectionError(port: server.port, security: .tls(.system))
            #expect(untrusted?.description.contains("the server's certificate is not trusted: pass -ca with the server's ca.crt") == true, "\(String(describing: untrusted))")
            #expect(untrusted?.isFatal == true)
            #expect(untrusted?.description.contains("268435") == false)

            let wrongCA = await connectionError(port: server.port, security: .tls(.certificateAuthorityFile(other.caCertificatePath)))
            #expect(wrongCA?.description.contains("is not signed by the certificate authority in \(other.caCertificatePath)") == true, "\(String(describing: wrongCA))")

            let noCertificate = await connectionError(port: server.port, security: .tls(.certificateAuthorityFile(empty)))
            #expect(noCertificate?.description.contains("\(empty) holds no certificate") == true, "\(String(describing: noCertificate))")
            #expect(noCertificate?.description.contains("NO_CERTIFICATE_OR_CRL_FOUND") == false)
        }
    }

    @Test func aTLSClientAgainstAPlainServerIsToldAndStops() async throws {
        try await TestServer.with(tls: false) { server in
            let error = await connectionError(port: server.port, security: .tls(.insecure))
            #expect(error?.description.contains("the server does not speak TLS") == true, "\(String(describing: error))")
            #expect(error?.isFatal == true)
        }
    }

    @Test func aPlaintextClientAgainstATLSServerIsToldAndStopsInsteadOfRetrying() async throws {
        try await TestServer.with { server in
            let recorder = UpdateRecorder()
            let (input, _) = AsyncStream<String>.makeStream()
            let quick = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(100), jitter: 0)
            let engine = ChatEngine(.init(host: "127.0.0.1", port: server.port, security: .plaintext, initialUsername: "alice", reconnect: quick))
            let running = Task { try await engine.run(input: input) { recorder.append($0) } }
            // Bounded: a client that retries for ever fails the test instead of hanging it.
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
            while !recorder.all.contains(where: { $0.isClosedStatus }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            running.cancel()
            let outcome = await running.result
            let text: String
            switch outcome {
            case .success(.serverClosed(let reason)): text = reason
            case .failure(let error as ConnectionError): text = error.description
            default:
                Issue.record("expected the client to stop: \(outcome)")
                return
            }
            #expect(text.contains("the server speaks TLS and this client was started with --plaintext"), "\(text)")
            #expect(!text.contains("Frame of"))
            // One connection, not a loop of them.
            #expect(recorder.all.filter {
                if case .connection(.connected) = $0 { return true }
                return false
            }.count <= 2)
        }
    }

    @Test func aPortOutOfRangeIsRefusedByTheCommandLine() async throws {
        let (status, output) = try await ServerProcess.runToExit(["client", "localhost", "-p", "70000"])
        #expect(status != 0)
        #expect(output.contains("Port must be 1...65535"))
    }
}

extension ClientUpdate {
    /// The engine has stopped.
    fileprivate var isClosedStatus: Bool {
        if case .status(let status) = self { return status.phase == .closed }
        return false
    }
}
