import Foundation

/// One server the client may connect to: a host name or address, and a port.
///
/// The client is given one or more (`chatterbox client HOST -p PORT`, `--server HOST[:PORT]`,
/// repeatable); each name may resolve to several addresses. See ``ChatEngine/Configuration/servers``.
public struct ServerEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP address, IPv6 without brackets.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        var host = host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = port
    }

    /// A `--server` argument could not be read.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`; `defaultPort` when no port is
    /// given. An IPv6 address without brackets (`::1`) is taken whole as the host: a port after
    /// one needs the brackets.
    public static func parse(_ text: String, defaultPort: Int) throws(ParseError) -> ServerEndpoint {
        let text = text.trimmingCharacters(in: .whitespaces)
        var host = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(description: "'\(text)': an IPv6 address in brackets needs its closing ']' ([::1]:9000)")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw ParseError(description: "'\(text)': after ']' only ':PORT' may follow ([::1]:9000)")
                }
                portText = rest.dropFirst()
            }
        } else if let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].firstIndex(of: ":") == nil {
            // One colon: HOST:PORT. More than one: an IPv6 address without a port.
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ParseError(description: "'\(text)' names no host (HOST[:PORT], e.g. chat.example.org:9000)") }
        guard let portText else { return ServerEndpoint(host: host, port: defaultPort) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ParseError(description: "'\(text)': the port must be a number 1...65535")
        }
        return ServerEndpoint(host: host, port: port)
    }

    /// "chat.example.org:9000", "[::1]:9000": the form `--server` takes.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// "chat.example.org port 9000", for sentences.
    public var spoken: String {
        "\(host) port \(port)"
    }
}
