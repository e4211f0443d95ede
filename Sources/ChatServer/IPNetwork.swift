#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 network: an address and a prefix length ("10.0.0.0/8", "2001:db8::/32";
/// a bare address is a network of one).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), host bits cleared.
    public let bytes: [UInt8]
    /// Leading bits that make the network.
    public let prefixLength: Int

    /// Parses "ADDRESS" or "ADDRESS/PREFIX"; `nil` when it is neither.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPNetwork.bytes(ofAddress: String(parts[0])) else { return nil }
        let maximum = address.count * 8
        var length = maximum
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maximum).contains(given) else { return nil }
            length = given
        }
        self.init(bytes: address, prefixLength: length)
    }

    /// The network of `prefixLength` bits around `bytes` (4 or 16 of them).
    public init(bytes: [UInt8], prefixLength: Int) {
        self.prefixLength = min(max(prefixLength, 0), bytes.count * 8)
        self.bytes = IPNetwork.masked(bytes, prefixLength: self.prefixLength)
    }

    /// Whether `address` (4 or 16 bytes) is in this network.
    public func contains(_ address: [UInt8]) -> Bool {
        address.count == bytes.count && IPNetwork.masked(address, prefixLength: prefixLength) == bytes
    }

    /// "10.0.0.0/8", "2001:db8::/32"; a network of one address is just the address.
    public var description: String {
        let address = IPNetwork.text(of: bytes)
        return prefixLength == bytes.count * 8 ? address : "\(address)/\(prefixLength)"
    }

    /// The loopback networks: 127.0.0.0/8 and ::1.
    public static let loopback: [IPNetwork] = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]

    /// The bytes of an IPv4 or IPv6 literal (an IPv4-mapped IPv6 address gives its 4 IPv4
    /// bytes, so that it counts as the IPv4 address it is).
    public static func bytes(ofAddress text: String) -> [UInt8]? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        // A scope ("fe80::1%eth0") is not part of the address.
        let unscoped = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        guard inet_pton(AF_INET6, unscoped, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }

    static func masked(_ bytes: [UInt8], prefixLength: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsHere = min(max(prefixLength - index * 8, 0), 8)
            result[index] &= bitsHere == 0 ? 0 : ~UInt8(0) << (8 - bitsHere)
        }
        return result
    }

    static func text(of bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return "?" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
