import Crypto
public import Foundation
import SwiftASN1
import X509

/// A certificate authority of this installation's own, kept in the data directory, that
/// issues the server's certificate when no certificate was given.
///
/// Files (keys readable by the owner only):
/// - `ca.crt`, `ca.key`: the CA. Clients trust it with `-ca DIR/ca.crt`.
/// - `server.crt`, `server.key`: the server's leaf, reissued when it nears expiry or lacks
///   a host name it must cover.
public struct LocalCertificateAuthority: Sendable {
    /// The files of one certificate and its key, as PEM.
    public struct Identity: Sendable {
        public var certificatePath: String
        public var privateKeyPath: String
    }

    /// What ``loadOrCreate(in:hostNames:now:)`` produced.
    public struct Result: Sendable {
        /// The CA certificate clients should trust.
        public var caCertificatePath: String
        /// The server certificate (leaf first, then the CA) and its key.
        public var server: Identity
        /// Whether the CA was created now (first start).
        public var createdAuthority: Bool
        /// Whether the server certificate was (re)issued now.
        public var issuedServerCertificate: Bool
    }

    /// Reissue the server certificate when it has less than this left.
    static let renewalMargin: TimeInterval = 30 * 24 * 3600
    static let authorityLifetime: TimeInterval = 10 * 365 * 24 * 3600
    static let serverLifetime: TimeInterval = 365 * 24 * 3600

    /// The names a generated server certificate covers by default: localhost, the loopback
    /// addresses, this machine's host name and the address of every local interface (so that
    /// `client 192.0.2.2` from another machine is verified too).
    public static func defaultHostNames() -> [String] {
        var names = ["localhost", "127.0.0.1", "::1"]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty, !names.contains(host) { names.append(host) }
        for address in localInterfaceAddresses() where !names.contains(address) { names.append(address) }
        return names
    }

    /// The addresses of this machine's network interfaces, IPv4 then IPv6, without link-local
    /// IPv6 addresses (they need an interface name to be reached, which a certificate cannot
    /// hold).
    public static func localInterfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var v4: [String] = []
        var v6: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { continue }
                let name = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                if !v4.contains(name) { v4.append(name) }
            case AF_INET6:
                var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                let bytes = withUnsafeBytes(of: &ip) { Array($0) }
                // fe80::/10: link-local.
                if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { continue }
                guard inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count)) != nil else { continue }
                let name = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                if !v6.contains(name) { v6.append(name) }
            default:
                continue
            }
        }
        return v4 + v6
    }

    /// Loads the CA and server certificate from `directory`, creating or renewing what is
    /// missing, expiring, or does not name exactly `hostNames` (the names changed: an address
    /// was added or given up, `--cert-name` was changed).
    public static func loadOrCreate(
        in directory: String,
        hostNames: [String] = defaultHostNames(),
        now: Date = Date()
    ) throws -> Result {
        // The same address written two ways, or a name given twice, is one name.
        var seen = Set<String>()
        let hostNames = hostNames.filter { name in
            seen.insert(IPAddress(literal: name).map { "ip:\($0.bytes)" } ?? "dns:" + name.lowercased()).inserted
        }
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let caCertPath = directory + "/ca.crt"
        let caKeyPath = directory + "/ca.key"
        let serverCertPath = directory + "/server.crt"
        let serverKeyPath = directory + "/server.key"

        var createdAuthority = false
        let caCertificate: Certificate
        let caKey: Certificate.PrivateKey
        if files.fileExists(atPath: caCertPath), files.fileExists(atPath: caKeyPath) {
            caCertificate = try Certificate(pemEncoded: try String(contentsOfFile: caCertPath, encoding: .utf8))
            caKey = try Certificate.PrivateKey(pemEncoded: try String(contentsOfFile: caKeyPath, encoding: .utf8))
        } else {
            (caCertificate, caKey) = try makeAuthority(now: now)
            try writeSecret(try caKey.serializeAsPEM().pemString, to: caKeyPath)
            // Ending in a newline, so that `cat` of several nodes' files is a valid bundle.
            try writePublic(try caCertificate.serializeAsPEM().pemString + "\n", to: caCertPath)
            createdAuthority = true
        }

        var needsServerCertificate = createdAuthority
            || !files.fileExists(atPath: serverCertPath) || !files.fileExists(atPath: serverKeyPath)
        if !needsServerCertificate {
            let pem = try String(contentsOfFile: serverCertPath, encoding: .utf8)
            let documents = try PEMDocument.parseMultiple(pemString: pem)
            if let first = documents.first {
                let leaf = try Certificate(derEncoded: first.derBytes)
                needsServerCertificate = leaf.notValidAfter.timeIntervalSince(now) < renewalMargin
                    || leaf.issuer != caCertificate.subject
                    || !names(leaf, exactly: hostNames)
            } else {
                needsServerCertificate = true
            }
        }
        if needsServerCertificate {
            let (leaf, leafKey) = try makeServerCertificate(
                hostNames: hostNames, authority: caCertificate, authorityKey: caKey, now: now)
            try writeSecret(try leafKey.serializeAsPEM().pemString, to: serverKeyPath)
            let chain = try leaf.serializeAsPEM().pemString + "\n" + caCertificate.serializeAsPEM().pemString + "\n"
            try writePublic(chain, to: serverCertPath)
        }
        return Result(
            caCertificatePath: caCertPath,
            server: Identity(certificatePath: serverCertPath, privateKeyPath: serverKeyPath),
            createdAuthority: createdAuthority,
            issuedServerCertificate: needsServerCertificate
        )
    }

    // MARK: - Issuing

    static func makeAuthority(now: Date) throws -> (Certificate, Certificate.PrivateKey) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("Chatterbox")
            CommonName("Chatterbox local CA \(ProcessInfo.processInfo.hostName)")
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(authorityLifetime),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key
        )
        return (certificate, key)
    }

    static func makeServerCertificate(
        hostNames: [String],
        authority: Certificate,
        authorityKey: Certificate.PrivateKey,
        now: Date
    ) throws -> (Certificate, Certificate.PrivateKey) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let subject = try DistinguishedName {
            OrganizationName("Chatterbox")
            CommonName(hostNames.first { IPAddress(literal: $0) == nil } ?? "localhost")
        }
        let alternativeNames = SubjectAlternativeNames(hostNames.map { name in
            if let address = IPAddress(literal: name) {
                return GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address.bytes)))
            }
            return GeneralName.dnsName(name)
        })
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(serverLifetime),
            issuer: authority.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                alternativeNames
                SubjectKeyIdentifier(hash: key.publicKey)
                if let authorityKeyID = try? authority.extensions.subjectKeyIdentifier {
                    AuthorityKeyIdentifier(keyIdentifier: authorityKeyID.keyIdentifier)
                }
            },
            issuerPrivateKey: authorityKey
        )
        return (certificate, key)
    }

    /// Whether the certificate's alternative names are `hostNames` and nothing else.
    static func names(_ certificate: Certificate, exactly hostNames: [String]) -> Bool {
        guard covers(certificate, hostNames: hostNames),
              let names = try? certificate.extensions.subjectAlternativeNames else { return false }
        let distinct = Set(hostNames.map { name in IPAddress(literal: name).map { "ip:\($0.bytes)" } ?? "dns:" + name.lowercased() })
        return names.count == distinct.count
    }

    static func covers(_ certificate: Certificate, hostNames: [String]) -> Bool {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return false }
        return hostNames.allSatisfy { host in
            if let address = IPAddress(literal: host) {
                return names.contains { name in
                    if case .ipAddress(let octets) = name { return Array(octets.bytes) == address.bytes }
                    return false
                }
            }
            return names.contains { name in
                if case .dnsName(let dns) = name { return dns.lowercased() == host.lowercased() }
                return false
            }
        }
    }

    // MARK: - Files

    /// Writes `contents` readable by the owner only, atomically.
    static func writeSecret(_ contents: String, to path: String) throws {
        try write(contents, to: path, permissions: 0o600)
    }

    static func writePublic(_ contents: String, to path: String) throws {
        try write(contents, to: path, permissions: 0o644)
    }

    private static func write(_ contents: String, to path: String, permissions: Int) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let files = FileManager.default
        try? files.removeItem(atPath: temporary)
        guard files.createFile(atPath: temporary, contents: Data(contents.utf8), attributes: [.posixPermissions: permissions]) else {
            throw CertificateFileError(path: temporary, reason: "could not be created")
        }
        if files.fileExists(atPath: path) { try files.removeItem(atPath: path) }
        try files.moveItem(atPath: temporary, toPath: path)
    }
}

/// A certificate or key file could not be read or written.
public struct CertificateFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// A parsed IPv4 or IPv6 literal.
struct IPAddress: Equatable {
    var bytes: [UInt8]

    init?(literal text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }
}
