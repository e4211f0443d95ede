import ChatClient
import ChatProtocol
import ChatTLS
import Foundation
import ChatTestSupport
import Testing

@Suite struct TLSTests {
    @Test func generatedCertificateIsTrustedThroughItsCAFileByNameAndAddress() async throws {
        try await TestServer.with { server in
            for host in ["127.0.0.1", "localhost"] {
                let client = try await server.connect(host: host)
                #expect(try await client.login("user-\(host.count)").usernameAccepted == true)
                await client.close()
            }
        }
    }

    @Test func serverIsNotTrustedWithoutItsCA() async throws {
        try await TestServer.with { server in
            await #expect(throws: ConnectionError.self) {
                let connection = try await ChatConnection.connect(host: "127.0.0.1", port: server.port, security: .tls(.system))
                try await connection.run { _, _ in }
            }
            // Explicit opt-out works.
            let insecure = try await server.connect(security: .tls(.insecure))
            #expect(try await insecure.login("risky").usernameAccepted == true)
        }
    }

    @Test func certificateForAnotherHostIsRefused() async throws {
        let directory = TemporaryDirectory()
        let foreign = try LocalCertificateAuthority.loadOrCreate(in: directory.path + "/elsewhere", hostNames: ["chat.example.invalid"])
        try await TestServer.with(configure: {
            $0.tls = try? TLSContexts.server(
                certificateChainPath: foreign.server.certificatePath, privateKeyPath: foreign.server.privateKeyPath)
        }) { server in
            for host in ["127.0.0.1", "localhost"] {
                let error = await #expect(throws: ConnectionError.self) {
                    let connection = try await ChatConnection.connect(
                        host: host, port: server.port, security: .tls(.certificateAuthorityFile(foreign.caCertificatePath)))
                    try await connection.run { _, _ in }
                }
                // Said so a person can act on it, and not tried again.
                #expect(error?.description.contains("the server's certificate does not name \(host)") == true, "\(String(describing: error))")
                #expect(error?.isFatal == true)
            }
        }
    }

    @Test func theGeneratedCertificateNamesEveryLocalAddressAndIsReissuedWhenNamesChange() async throws {
        let directory = TemporaryDirectory()
        let names = LocalCertificateAuthority.defaultHostNames()
        for address in LocalCertificateAuthority.localInterfaceAddresses() { #expect(names.contains(address)) }
        #expect(names.contains("127.0.0.1") && names.contains("::1") && names.contains("localhost"))
        let first = try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: names)
        #expect(!(try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: names).issuedServerCertificate))
        // A name given up is a change too (and the same address written twice is one name).
        let fewer = try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: ["localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1"])
        #expect(fewer.issuedServerCertificate && !fewer.createdAuthority)
        #expect(!(try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: ["localhost", "127.0.0.1", "::1"]).issuedServerCertificate))
        _ = try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: names)

        // A client on another machine connects to one of the interface addresses: verified.
        let remoteLooking = LocalCertificateAuthority.localInterfaceAddresses().filter { !$0.hasPrefix("127.") && $0 != "::1" }
        try await TestServer.with(configure: {
            $0.host = ""
            $0.tls = try? TLSContexts.server(certificateChainPath: first.server.certificatePath, privateKeyPath: first.server.privateKeyPath)
        }) { server in
            for address in remoteLooking.prefix(2) {
                let client = try await TestClient.connect(host: address, port: server.port, security: .tls(.certificateAuthorityFile(first.caCertificatePath)))
                #expect(try await client.login("from-\(address.count)").usernameAccepted == true)
                await client.close()
            }
        }
    }

    @Test func theServerPrintsTheClientCommandForEachName() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, host: "", arguments: ["--cert-name", "chat.example.org"])
        defer { server.kill() }
        let ca = URL(fileURLWithPath: directory.path + "/ca.crt").standardizedFileURL.path
        let expected = (LocalCertificateAuthority.defaultHostNames() + ["chat.example.org"]).map { "chatterbox client \($0) -p \(server.port) -ca \(ca)" }
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
        while !expected.allSatisfy(server.output.contains), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        for line in expected { #expect(server.output.contains(line), "\(server.output)") }
        // The certificate names exactly those: loading with them issues nothing new.
        let reloaded = try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: LocalCertificateAuthority.defaultHostNames() + ["chat.example.org"])
        #expect(!reloaded.issuedServerCertificate)
    }

    @Test func plaintextClientToTheTLSPortIsDisconnected() async throws {
        try await TestServer.with { server in
            let plain = try await server.connect(security: .plaintext)
            try await plain.send(Frame(username: "plain"))
            let frames = try await plain.waitForClose()
            #expect(frames.allSatisfy { $0.usernameAccepted == nil })
        }
    }
}
