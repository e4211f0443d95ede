import ChatTLS
import ChatTestSupport
import Foundation
import Testing

/// The local CA and server certificate the server makes for itself in its data directory.
@Suite struct LocalCertificateAuthorityTests {
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
}
