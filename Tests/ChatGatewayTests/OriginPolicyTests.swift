import ChatGateway
import Testing

@Suite("Origin policy")
struct OriginPolicyTests {
    @Test("The server's own origin, over either scheme, and no Origin at all are allowed")
    func ownOrigin() {
        let policy = OriginPolicy()
        #expect(policy.allows(origin: "https://localhost:8443", host: "localhost:8443"))
        #expect(policy.allows(origin: "HTTPS://LocalHost:8443/", host: "localhost:8443"))
        #expect(policy.allows(origin: "http://chat.example.com", host: "chat.example.com"))
        #expect(policy.allows(origin: nil, host: "localhost:8443"))
        // A program's own (WSClient's), which no page has.
        #expect(policy.allows(origin: "wss://127.0.0.1", host: "localhost:8443"))
    }

    @Test("Other origins, another port, null and a missing Host are refused")
    func otherOrigins() {
        let policy = OriginPolicy()
        #expect(!policy.allows(origin: "https://evil.example", host: "localhost:8443"))
        #expect(!policy.allows(origin: "https://localhost:9999", host: "localhost:8443"))
        #expect(!policy.allows(origin: "https://localhost:8443.evil.example", host: "localhost:8443"))
        #expect(!policy.allows(origin: "null", host: "localhost:8443"))
        #expect(!policy.allows(origin: "https://localhost:8443", host: nil))
    }

    @Test("Origins added by the operator are allowed, compared case-insensitively")
    func additional() {
        let policy = OriginPolicy(additionalOrigins: ["https://Chat.Example.com/"])
        #expect(policy.allows(origin: "https://chat.example.com", host: "127.0.0.1:8443"))
        #expect(!policy.allows(origin: "http://chat.example.com", host: "127.0.0.1:8443"))
    }

    @Test("What --http-allow-origin accepts")
    func validation() {
        #expect(OriginPolicy.isValid("https://chat.example.com"))
        #expect(OriginPolicy.isValid("http://localhost:8080"))
        #expect(!OriginPolicy.isValid("chat.example.com"))
        #expect(!OriginPolicy.isValid("https://chat.example.com/path"))
        #expect(!OriginPolicy.isValid("ftp://chat.example.com"))
        #expect(!OriginPolicy.isValid("https://"))
    }
}
