import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import NIOCore
import Testing

/// What a stranger can throw at the TLS port: old protocols, weak ciphers, other protocols,
/// random bytes, half frames.
@Suite struct HostileTransportTests {
    /// Runs `openssl s_client` against the server with `arguments`; what it printed.
    private func sClient(_ server: TestServer, _ arguments: [String]) async throws -> String {
        try await ChildProcess.runToExit(
            "/usr/bin/openssl",
            ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", server.caPath!] + arguments,
            timeout: .seconds(20)
        ).output
    }

    @Test(arguments: ["-tls1", "-tls1_1"])
    func oldTLSVersionsAreRefused(version: String) async throws {
        try await TestServer.with { server in
            let output = try await sClient(server, [version])
            #expect(output.contains("alert protocol version") || output.contains("no protocols available"), "\(output)")
            #expect(output.contains("Cipher is (NONE)"))
        }
    }

    @Test(arguments: [("-tls1_2", "ECDHE-ECDSA-AES"), ("-tls1_3", "TLS_AES_")])
    func modernTLSIsAccepted(version: String, cipher: String) async throws {
        try await TestServer.with { server in
            let output = try await sClient(server, [version])
            #expect(output.contains("Cipher is \(cipher)"), "\(output)")
            #expect(output.contains("Verify return code: 0 (ok)"))
        }
    }

    @Test(arguments: ["AES128-SHA", "AES256-SHA256", "ECDHE-ECDSA-AES128-SHA"])
    func weakOrNonForwardSecretCiphersAreRefused(cipher: String) async throws {
        try await TestServer.with { server in
            let output = try await sClient(server, ["-tls1_2", "-cipher", cipher])
            #expect(output.contains("Cipher is (NONE)"), "\(output)")
        }
    }

    @Test func hostNameIsCheckedAgainstTheCertificate() async throws {
        try await TestServer.with { server in
            let output = try await sClient(server, ["-verify_hostname", "wrong.example", "-verify_return_error"])
            #expect(output.contains("hostname mismatch"))
        }
    }

    @Test func httpSpokenOverTLSGetsAnErrorAndIsClosed() async throws {
        try await TestServer.with { server in
            let browser = try await server.connect()
            try await browser.sendRaw(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
            let frames = try await browser.waitForClose()
            // "GET " read as a length is 1.2 GB: refused from the header alone.
            #expect(frames.contains { $0.error?.contains("exceeds the maximum") == true })
        }
    }

    @Test func randomBytesOnTheTLSPortAreDroppedAndOthersCarryOn() async throws {
        // Noise that happens to open like a TLS record (type 22, a version, a length above
        // what was sent) is waited for until the handshake deadline: keep that well inside
        // the wait below.
        try await TestServer.with(configure: { $0.limits.handshakeTimeout = .seconds(5) }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<20 {
                let noise = try RawSocket(port: server.port)
                noise.send((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
                let (_, closed) = await noise.readUntilClosed(timeout: .seconds(10))
                #expect(closed)
            }
            try await alice.say("still fine", as: "alice")
            #expect(try await bob.nextMessages().map(\.content) == ["still fine"])
        }
    }

    @Test func truncatedFrameThenDisconnectLeavesTheServerHealthy() async throws {
        try await TestServer.with { server in
            let alice = try await server.login("alice")
            let cut = try await server.login("cut")
            var half = ByteBuffer()
            half.writeInteger(UInt32(100))
            half.writeString(#"{"MESSAGES": [["cut", "ALL", 1, "never fini"#)
            try await cut.sendRaw(half)
            await cut.close()
            #expect(try await alice.next { $0.usersLeft != nil }.frame.usersLeft == ["cut"])
            let again = try await server.login("cut")
            try await again.say("whole", as: "cut")
            #expect(try await alice.nextMessages().map(\.content) == ["whole"])
        }
    }
}

@Suite struct StartupWarningTests {
    @Test func privateKeyReadableByOthersIsReported() async throws {
        let directory = TemporaryDirectory()
        let first = try await ServerProcess.start(dataDirectory: directory.path)
        #expect(try await first.terminate() == 0)
        #expect(!first.output.contains("WARNING"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory.path + "/server.key")
        let second = try await ServerProcess.start(dataDirectory: directory.path)
        #expect(second.output.contains("WARNING: the private key") && second.output.contains("chmod 600"))
        #expect(try await second.terminate() == 0)
    }

    @Test func plaintextIsAnnouncedLoudly() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--plaintext"])
        #expect(server.output.contains("WARNING: --plaintext") && server.output.contains("UNENCRYPTED"))
        #expect(try await server.terminate() == 0)
    }
}
