import ChatProtocol
import Foundation
import Testing

/// The one base64 of the code base (RFC 4648, standard alphabet, padded): file chunks in
/// frames, and the salt and digest of stored password hashes.
@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func theRFCVectorsEncodeAndDecode(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    /// The standard alphabet's last two characters (not the URL-safe `-` and `_`), and every
    /// byte value at every position of a group, as Foundation encodes them.
    @Test func everyByteMatchesFoundation() {
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
        for length in 0..<4 {
            let bytes = (0..<(256 + length)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(Base64.decode(encoded) == bytes)
        }
    }

    @Test(arguments: ["Zg", "Zm9", "Zg=", "Zm9v!A==", "Zm9v-_==", "Zg==Zm8=", "Z===", "Zm9v\n", " Zm9v"])
    func anythingElseIsRefused(text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
