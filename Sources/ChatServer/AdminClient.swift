#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The other end of ``AdminSocket``: sends one command line and reads the answer. Blocking;
/// for `chatterbox admin` and tests.
public enum AdminClient {
    /// The admin socket's file in a server's data directory.
    public static func socketPath(inDataDirectory directory: String) -> String {
        (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/admin.sock"
    }

    /// Why a command could not be sent or answered.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sends `command` (one line, `kick bob spamming`) to the socket at `path` and returns the
    /// server's answer, waiting at most `timeoutSeconds` for it.
    public static func send(_ command: String, socketPath path: String, timeoutSeconds: Int = 10) throws -> AdminReply {
        guard !command.contains("\n") else { throw Failure(description: "the command must be one line") }
        #if os(Linux)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "cannot make a socket (errno \(errno))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "the socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            throw Failure(description: "cannot connect to \(path): \(reason) (is the server running with this data directory?)")
        }
        let outgoing = Array((command + "\n").utf8)
        var sent = 0
        while sent < outgoing.count {
            let written = outgoing.withUnsafeBytes { write(descriptor, $0.baseAddress! + sent, $0.count - sent) }
            guard written > 0 else { throw Failure(description: "cannot send the command (errno \(errno))") }
            sent += written
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while answer.count < 4 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count == 0 { break }
            guard count > 0 else {
                throw Failure(description: errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within \(timeoutSeconds) seconds" : "cannot read the answer (errno \(errno))")
            }
            answer += chunk[..<count]
        }
        var lines = String(decoding: answer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let status = lines.first, status == "ok" || status == "error" else {
            throw Failure(description: "unexpected answer from \(path)")
        }
        return AdminReply(ok: status == "ok", lines: Array(lines.dropFirst()))
    }
}
