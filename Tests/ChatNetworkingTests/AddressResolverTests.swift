@testable import ChatNetworking
import NIOCore
import Testing

/// Address resolution without the name service: literals, the wildcards, and the error's text.
@Suite struct AddressResolverTests {
    @Test func addressLiteralsNeedNoLookup() async throws {
        let v4 = try await AddressResolver.connectAddresses(host: "127.0.0.1", port: 4242, timeout: .seconds(5))
        #expect(v4.map(\.ipAddress) == ["127.0.0.1"])
        #expect(v4.map(\.port) == [4242])
        // A bracketed IPv6 literal, as in a URL.
        let v6 = try await AddressResolver.connectAddresses(host: "[::1]", port: 4243, timeout: .seconds(5))
        #expect(v6.map(\.ipAddress) == ["::1"])
        #expect(v6.map(\.port) == [4243])
    }

    @Test func anEmptyHostBindsTheWildcardsAndANamedOneItsAddress() throws {
        let wildcards = try AddressResolver.bindAddresses(host: "", port: 0)
        #expect(!wildcards.isEmpty)
        #expect(wildcards.allSatisfy { $0.ipAddress == "0.0.0.0" || $0.ipAddress == "::" })
        #expect(try AddressResolver.bindAddresses(host: "127.0.0.1", port: 7).map(\.ipAddress) == ["127.0.0.1"])
    }

    @Test func theErrorNamesTheHost() {
        #expect(AddressResolutionError(host: "chat.example", reason: "no answer").description == "Cannot resolve 'chat.example': no answer")
        #expect(AddressResolutionError(host: "", reason: "refused").description == "Cannot resolve the local addresses: refused")
    }
}
