import ChatProtocol
import Crypto
import _CryptoExtras

/// A salted, slow hash of an account password: PBKDF2-HMAC-SHA256, a random 16-byte salt, a
/// 32-byte digest. Only this is stored, never the password.
///
/// Encoded as `pbkdf2-sha256$ROUNDS$SALT$DIGEST` (salt and digest in padded standard base64,
/// ChatProtocol's `Base64`), so the round count can be raised later without invalidating
/// older hashes.
struct PasswordHash: Sendable, Equatable {
    static let scheme = "pbkdf2-sha256"
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    static let defaultRounds = 600_000
    /// Passwords are 8 to 256 bytes of UTF-8: long enough to mean something, short enough that
    /// nobody can make the server hash megabytes.
    static let allowedLength = 8...256

    let rounds: Int
    let salt: [UInt8]
    let digest: [UInt8]

    /// Hashes `password` with a fresh random salt. Slow by design: call off the event loops.
    init(hashing password: String, rounds: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.rounds = rounds
        self.salt = salt
        self.digest = try Self.derive(password, salt: salt, rounds: rounds)
    }

    /// Parses an encoded hash; `nil` when it is not one.
    init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.scheme, let rounds = Int(parts[1]), rounds > 0,
              let salt = Base64.decode(String(parts[2])), let digest = Base64.decode(String(parts[3])),
              !salt.isEmpty, digest.count == 32
        else { return nil }
        self.rounds = rounds
        self.salt = salt
        self.digest = digest
    }

    var encoded: String {
        "\(Self.scheme)$\(rounds)$\(Base64.encode(salt))$\(Base64.encode(digest))"
    }

    /// Whether `password` is the one hashed. Slow by design: call off the event loops. The
    /// digests are compared in constant time.
    func matches(_ password: String) -> Bool {
        guard let candidate = try? Self.derive(password, salt: salt, rounds: rounds) else { return false }
        return Self.constantTimeEqual(candidate, digest)
    }

    /// Equal contents, in a time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The fewest rounds swift-crypto's checked PBKDF2 accepts (OWASP's 2021 figure).
    static let checkedMinimumRounds = 210_000

    /// Production round counts go through swift-crypto's checked API, which refuses fewer than
    /// ``checkedMinimumRounds``. Only counts below that — the tests' fast 2,000 rounds, set with
    /// `ServerConfiguration.passwordHashRounds` — take the unchecked one (docs/PRIVATE-APIS.md).
    private static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key =
            if rounds >= checkedMinimumRounds {
                try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, rounds: rounds)
            } else {
                try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: rounds)
            }
        return key.withUnsafeBytes { Array($0) }
    }
}
