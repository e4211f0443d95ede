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
                #expect(error?.description.contains("TLS handshake") == true)
            }
        }
    }

    @Test func generatedFilesAreReusedAndKeysArePrivate() throws {
        let directory = TemporaryDirectory()
        let first = try LocalCertificateAuthority.loadOrCreate(in: directory.path)
        #expect(first.createdAuthority && first.issuedServerCertificate)
        let caBefore = try String(contentsOfFile: first.caCertificatePath, encoding: .utf8)
        let second = try LocalCertificateAuthority.loadOrCreate(in: directory.path)
        #expect(!second.createdAuthority && !second.issuedServerCertificate)
        #expect(try String(contentsOfFile: second.caCertificatePath, encoding: .utf8) == caBefore)
        for key in ["ca.key", "server.key"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/" + key)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
        // A host name the certificate lacks gets a new leaf from the same CA.
        let third = try LocalCertificateAuthority.loadOrCreate(in: directory.path, hostNames: ["localhost", "chat.example.org"])
        #expect(!third.createdAuthority && third.issuedServerCertificate)
        #expect(try String(contentsOfFile: third.caCertificatePath, encoding: .utf8) == caBefore)
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
