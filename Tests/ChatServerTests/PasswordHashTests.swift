@testable import ChatServer
import Testing

/// Password hashes through both of swift-crypto's PBKDF2 entry points: the checked one, for
/// production round counts, and the unchecked one below its floor (the tests' fast rounds).
@Suite struct PasswordHashTests {
    @Test(arguments: [2_000, PasswordHash.checkedMinimumRounds])
    func aHashMatchesItsPasswordAndNoOther(rounds: Int) throws {
        let hash = try PasswordHash(hashing: "correct horse", rounds: rounds)
        let decoded = try #require(PasswordHash(encoded: hash.encoded))
        #expect(decoded == hash)
        #expect(decoded.rounds == rounds)
        #expect(decoded.matches("correct horse"))
        #expect(!decoded.matches("correct horse "))
    }

    /// A hash as the server has stored it since accounts began (PBKDF2-HMAC-SHA256, 2,000
    /// rounds, salt 01…10, padded standard base64): it must keep verifying, and encode back to
    /// the same text, whatever base64 code reads it.
    @Test func aStoredHashStillVerifiesAndKeepsItsText() throws {
        let stored = "pbkdf2-sha256$2000$AQIDBAUGBwgJCgsMDQ4PEA==$IYTIdd8Unw7ullQ8mVRZLBVAk7m64EYmuIR0pfBKgn4="
        let hash = try #require(PasswordHash(encoded: stored))
        #expect(hash.rounds == 2_000)
        #expect(hash.salt == Array(1...16))
        #expect(hash.matches("correct horse"))
        #expect(!hash.matches("correct horsf"))
        #expect(hash.encoded == stored)
        // Unpadded, URL-safe or truncated parts are no hash.
        #expect(PasswordHash(encoded: "pbkdf2-sha256$2000$AQIDBAUGBwgJCgsMDQ4PEA$IYTIdd8Unw7ullQ8mVRZLBVAk7m64EYmuIR0pfBKgn4=") == nil)
        #expect(PasswordHash(encoded: "pbkdf2-sha256$2000$AQIDBAUGBwgJCgsMDQ4PEA==$IYTIdd8Unw7ullQ8mVRZLBVAk7m64EYmuIR0pfBKgn4") == nil)
        #expect(PasswordHash(encoded: "pbkdf2-sha256$2000$AQIDBAUGBwgJCgsMDQ4PEA==$IYTIdd8Unw7ullQ8mVRZLBVAk7m64EYmuIR0pfBKgn4=x") == nil)
    }
}
