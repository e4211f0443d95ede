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
}
