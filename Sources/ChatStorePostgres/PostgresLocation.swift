import Foundation

/// Where a PostgreSQL database is and how to log in to it, from a URL in the form operators
/// know from libpq: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`.
///
/// `postgresql://` works too; user and password may be percent-encoded; a host in brackets is
/// an IPv6 address; a percent-encoded path as host (`%2Fvar%2Frun%2Fpostgresql`) is the
/// directory of a Unix socket. `sslmode` is `disable`, `prefer` (the default, as libpq's) or
/// `require`/`verify-full` (TLS with the certificate checked against the system's roots).
///
/// Its ``description`` never shows the password: it is what logs and error messages print.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// How the connection is protected.
    public enum TLSMode: String, Sendable {
        case disable
        case prefer
        case require
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The directory holding the server's socket (`.s.PGSQL.PORT`) and the port.
        case unixSocket(directory: String, port: Int)
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// A URL that cannot be used, with the reason.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(endpoint: Endpoint, username: String, password: String?, database: String, tls: TLSMode = .prefer) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses `url`; the error says what is wrong without repeating the password.
    public init(url: String) throws(Problem) {
        guard let schemeEnd = url.range(of: "://") else {
            throw Problem(description: "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw Problem(description: "the URL must start with postgres:// (not \(scheme)://)")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var queryItems: [(String, String)] = []
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                queryItems.append((String(parts[0]), parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""))
            }
            rest = rest[..<question]
        }
        // The user information ends at the last "@": a password may contain one, encoded or not.
        guard let at = rest.lastIndex(of: "@") else {
            throw Problem(description: "the URL names no user (postgres://USER@HOST/DATABASE)")
        }
        let userInfo = rest[..<at]
        rest = rest[rest.index(after: at)...]
        let userParts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let username = Self.decode(userParts[0]), !username.isEmpty else {
            throw Problem(description: "the URL names no user (postgres://USER@HOST/DATABASE)")
        }
        var password: String?
        if userParts.count > 1 {
            guard let decoded = Self.decode(userParts[1]) else { throw Problem(description: "the password is not valid percent-encoding") }
            password = decoded
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw Problem(description: "the URL names no database (postgres://USER@HOST/DATABASE)")
        }
        guard let database = Self.decode(rest[rest.index(after: slash)...]), !database.isEmpty else {
            throw Problem(description: "the URL names no database (postgres://USER@HOST/DATABASE)")
        }
        let hostPort = rest[..<slash]
        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw Problem(description: "an IPv6 host needs its closing ]") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw Problem(description: "unexpected text after the IPv6 host")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        var port = 5432
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw Problem(description: "the port must be a number from 1 to 65535")
            }
            port = value
        }
        guard let decodedHost = Self.decode(host) else {
            throw Problem(description: "the host is not valid percent-encoding")
        }
        var tls = TLSMode.prefer
        for (name, value) in queryItems {
            switch name {
            case "sslmode":
                switch value {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw Problem(description: "sslmode must be disable, prefer, require or verify-full (not \(value))")
                }
            case "host":
                // libpq's way to name a socket directory: postgres://user@/db?host=/run/postgresql
                break
            default:
                throw Problem(description: "unknown URL parameter \(name) (only sslmode is understood)")
            }
        }
        let socketDirectory = queryItems.first { $0.0 == "host" }.map(\.1) ?? (decodedHost.hasPrefix("/") ? decodedHost : nil)
        guard socketDirectory != nil || !decodedHost.isEmpty else {
            throw Problem(description: "the URL names no host (postgres://USER@HOST/DATABASE)")
        }
        let endpoint: Endpoint = socketDirectory.map { .unixSocket(directory: $0, port: port) } ?? .tcp(host: decodedHost, port: port)
        self.init(endpoint: endpoint, username: username, password: password, database: database, tls: tls)
    }

    /// The URL with the password masked.
    public var description: String {
        let user = username + (password == nil ? "" : ":***")
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(shownHost):\(port)/\(database)"
        case .unixSocket(let directory, let port):
            return "postgres://\(user)@\(directory):\(port)/\(database)"
        }
    }

    public var debugDescription: String { description }

    /// What `dump` and debuggers show: the parts, with the password masked.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "endpoint": endpoint, "username": username, "password": password == nil ? "nil" : "***",
            "database": database, "tls": tls,
        ])
    }

    /// Whether `text` looks like a PostgreSQL URL (rather than a store name such as `sqlite`).
    public static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    private static func decode(_ text: Substring) -> String? {
        String(text).removingPercentEncoding
    }
}
