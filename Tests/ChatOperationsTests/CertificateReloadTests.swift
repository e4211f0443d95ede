import ChatTestSupport
import ChatTLS
import Foundation
import Testing

/// SIGHUP after a certificate renewal: new connections (chat port and HTTP listener) get the
/// new certificate, an open connection keeps chatting.
@Suite struct CertificateReloadTests {
    @Test func sighupServesTheRenewedCertificateToNewConnections() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--http-port", "0"])
        defer { server.kill() }
        let httpPort = try await ServerCommandHTTPTests.httpPort(of: server)
        let caPath = directory.path + "/ca.crt"
        let certificatePath = directory.path + "/server.crt"
        let original = try String(contentsOfFile: certificatePath, encoding: .utf8)
        #expect(try await Self.presentedCertificate(port: server.port, caPath: caPath) == Self.pem(original))
        #expect(try await Self.presentedCertificate(port: httpPort, caPath: caPath) == Self.pem(original))

        let old = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .tls(.certificateAuthorityFile(caPath)))
        #expect(try await old.login("old").usernameAccepted == true)

        // A renewal: the same authority issues a new certificate (another name makes it).
        let renewed = try LocalCertificateAuthority.loadOrCreate(
            in: directory.path, hostNames: LocalCertificateAuthority.defaultHostNames() + ["renewed.example"])
        #expect(renewed.issuedServerCertificate)
        let replacement = try String(contentsOfFile: certificatePath, encoding: .utf8)
        #expect(Self.pem(replacement) != Self.pem(original))
        kill(server.pid, SIGHUP)

        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while try await Self.presentedCertificate(port: server.port, caPath: caPath) != Self.pem(replacement) {
            guard ContinuousClock.now < deadline else { throw TestFailure("the chat port still serves the old certificate: \(server.output)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await Self.presentedCertificate(port: httpPort, caPath: caPath) == Self.pem(replacement))

        // The connection made before goes on.
        try await old.say("still here", as: "old")
        #expect(try await old.nextMessages().map(\.content) == ["still here"])
        await old.close()
        #expect(try await server.terminate() == 0)
    }

    @Test func aBrokenRenewalKeepsThePreviousCertificate() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path)
        defer { server.kill() }
        let caPath = directory.path + "/ca.crt"
        let certificatePath = directory.path + "/server.crt"
        let original = try String(contentsOfFile: certificatePath, encoding: .utf8)
        // Half-written by a renewal that was interrupted.
        try String(original.prefix(original.count / 2)).write(toFile: certificatePath, atomically: true, encoding: .utf8)
        kill(server.pid, SIGHUP)
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while !server.output.contains("certificate not reloaded") {
            guard ContinuousClock.now < deadline else { throw TestFailure("no word of the failed reload: \(server.output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await Self.presentedCertificate(port: server.port, caPath: caPath) == Self.pem(original))
        #expect(try await server.terminate() == 0)
    }

    /// The certificate `openssl s_client` is shown at `port` (PEM), verified against `caPath`.
    static func presentedCertificate(port: Int, caPath: String) async throws -> String? {
        let output = try await ChildProcess.runToExit(
            "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caPath], timeout: .seconds(20)
        ).output
        guard output.contains("Verify return code: 0 (ok)") else { return nil }
        return pem(output)
    }

    /// The first PEM certificate block in `text`.
    static func pem(_ text: String) -> String? {
        guard let start = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }
}
