import Foundation

/// A port for a server that a test stops and starts again on the same port.
///
/// Port 0 hands out a port from the range the system also uses for the local end of outgoing
/// connections: while such a server is down, another test's connection may take its port and
/// the restart fails with "Address already in use". A port below that range is never taken
/// that way.
public enum RestartablePort {
    /// A free port below the system's range for outgoing connections.
    public static func pick() throws -> Int {
        let upper = min(ephemeralStart(), 32768)
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<upper)
            if isFree(port) { return port }
        }
        throw TestFailure("no free port below \(upper)")
    }

    private static func ephemeralStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
    }

    private static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0
    }
}
