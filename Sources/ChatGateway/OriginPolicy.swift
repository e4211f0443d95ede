import Foundation

/// Which web pages may open the chat's WebSocket: the server's own page, and the origins an
/// operator adds (`--http-allow-origin`). A browser sends `Origin` with every WebSocket
/// handshake, and a page of another site would otherwise chat in its visitor's name
/// (cross-site WebSocket hijacking); programs that are not browsers send none (or a `ws(s)://`
/// one, which no page has) and are let in, as they could connect to the chat port anyway.
public struct OriginPolicy: Sendable, Equatable {
    /// Origins allowed besides the server's own, as browsers write them
    /// (`https://chat.example.com`, `http://localhost:8080`), compared case-insensitively.
    public var additionalOrigins: Set<String>

    public init(additionalOrigins: [String] = []) {
        self.additionalOrigins = Set(additionalOrigins.map(Self.normalise))
    }

    /// Whether a handshake with `origin` (the `Origin` header; `nil` when absent) made to
    /// `host` (the `Host` header) may open a chat session.
    ///
    /// The server's own origin is the one whose host and port are the request's `Host`, over
    /// either scheme: no other server answers on this host and port.
    public func allows(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        let normalised = Self.normalise(origin)
        // Pages have http(s) origins (or "null"): a ws(s) one is a program's own, as
        // hummingbird's WSClient sends, which could use the chat port anyway.
        if normalised.hasPrefix("ws://") || normalised.hasPrefix("wss://") { return true }
        if additionalOrigins.contains(normalised) { return true }
        guard let host, !host.isEmpty else { return false }
        let authority = host.lowercased()
        return normalised == "https://" + authority || normalised == "http://" + authority
    }

    /// Whether `origin` is written as an origin: a scheme, `://`, and a host (and port), no path.
    public static func isValid(_ origin: String) -> Bool {
        let normalised = normalise(origin)
        guard let range = normalised.range(of: "://") else { return false }
        let scheme = normalised[..<range.lowerBound]
        let authority = normalised[range.upperBound...]
        return ["http", "https"].contains(scheme) && !authority.isEmpty && !authority.contains("/")
            && !authority.contains(where: { $0.isWhitespace })
    }

    private static func normalise(_ origin: String) -> String {
        var text = origin.trimmingCharacters(in: .whitespaces).lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
