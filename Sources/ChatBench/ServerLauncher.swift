import ChatProcess
import Foundation

/// Which server a benchmark starts.
public enum BenchServerKind: String, Sendable, CaseIterable, Codable {
    case chatterbox
    case ngircd
    case inspircd

    var wireProtocol: BenchProtocol { self == .chatterbox ? .chatterbox : .irc }
}

/// A server process started for a benchmark, pinned to a CPU, killed at the end.
public final class LaunchedServer: Sendable {
    public let kind: BenchServerKind
    public let port: Int
    public let pid: Int32
    /// The CA file clients trust for this server.
    public let caFile: String
    private let process: SpawnedProcess
    private let directory: String

    private init(kind: BenchServerKind, port: Int, process: SpawnedProcess, directory: String, caFile: String) {
        self.kind = kind
        self.port = port
        self.process = process
        self.pid = process.pid
        self.directory = directory
        self.caFile = caFile
    }

    /// Starts `kind` on 127.0.0.1:`port` with TLS from the certificate in `certificates`
    /// (a Chatterbox data directory: ca.crt, server.crt, server.key), pinned to `cpu` if given,
    /// at nice value `nice` if given.
    /// - Parameter port: where to listen; 0 picks a free port.
    public static func launch(
        _ kind: BenchServerKind, port requestedPort: Int, cpu: Int?, nice: Int? = nil, chatterbox: String, certificates: String, threads: Int?, tls: Bool = true,
        extraArguments: [String] = []
    ) async throws -> LaunchedServer {
        let port = requestedPort == 0 ? try freePort() : requestedPort
        guard !isListening(port: port) else { throw BenchError("port \(port) is already in use") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatterbox-bench-\(kind.rawValue)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var command: [String]
        switch kind {
        case .chatterbox:
            for file in ["ca.crt", "ca.key", "server.crt", "server.key"] {
                try FileManager.default.copyItem(atPath: certificates + "/" + file, toPath: directory + "/" + file)
            }
            // --init: a directory with certificates but no database is one the server takes
            // for a used one that lost its database; this one is new on purpose.
            command = [chatterbox, "server", "127.0.0.1", "-p", String(port), "--data-dir", directory, "--init", "--log-level", "error"]
            // Limits off unless the caller passes its own (a benchmark drives many clients from one address).
            command += extraArguments.isEmpty ? ["--no-limits"] : extraArguments
            if let threads { command += ["--threads", String(threads)] }
            if !tls { command.append("--plaintext") }
        case .ngircd:
            let config = directory + "/ngircd.conf"
            try ngircdConfig(port: port, certificates: certificates, directory: directory, tls: tls).write(toFile: config, atomically: true, encoding: .utf8)
            command = ["/usr/sbin/ngircd", "--nodaemon", "--config", config]
        case .inspircd:
            let config = directory + "/inspircd.conf"
            try inspircdConfig(port: port, certificates: certificates, directory: directory, tls: tls).write(toFile: config, atomically: true, encoding: .utf8)
            command = ["/usr/sbin/inspircd", "--nofork", "--config", config, "--runasroot"]
        }
        if let cpu { command = ["/usr/bin/taskset", "-c", String(cpu)] + command }
        if let nice { command = ["/usr/bin/nice", "-n", String(nice)] + command }
        let log = directory + "/server.log"
        let process = SpawnedProcess(pid: try Spawn.start(command[0], Array(command.dropFirst()), directory: directory, output: .file(log), errors: .output))
        let server = LaunchedServer(kind: kind, port: port, process: process, directory: directory, caFile: certificates + "/ca.crt")
        try await server.waitUntilListening()
        return server
    }

    /// Gives the autogroup (session) of `pid` the nice value `nice`, where the kernel has
    /// autogroups: between sessions only that value counts, not the nice values of the processes
    /// (those order the processes within the session).
    public static func setAutogroupNice(_ nice: Int, pid: Int32) {
        let path = "/proc/\(pid)/autogroup"
        guard FileManager.default.fileExists(atPath: path), let file = FileHandle(forWritingAtPath: path) else { return }
        defer { try? file.close() }
        try? file.write(contentsOf: Data(String(nice).utf8))
    }

    /// A TCP port nothing listens on now, from the kernel.
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw BenchError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func waitUntilListening() async throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
                throw BenchError("\(kind.rawValue) exited at start:\n\(log.suffix(2000))")
            }
            if Self.isListening(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("\(kind.rawValue) is not listening on port \(port)")
    }

    private static func isListening(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    public func stop() async {
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate(force: true)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - IRC server configurations: one channel, TLS 1.3, every throttle off.

    static func ngircdConfig(port: Int, certificates: String, directory: String, tls: Bool) -> String {
        """
        [Global]
        Name = bench.chatterbox.local
        Info = Chatterbox benchmark
        Listen = 127.0.0.1
        Ports = \(tls ? "" : String(port))
        PidFile = \(directory)/ngircd.pid
        [Limits]
        MaxConnections = 0
        MaxConnectionsIP = 0
        MaxJoins = 0
        MaxNickLength = 30
        MaxPenaltyTime = 0
        PingTimeout = 3600
        PongTimeout = 3600
        [Options]
        DNS = no
        Ident = no
        PAM = no
        MorePrivacy = no
        [SSL]
        CertFile = \(certificates)/server.crt
        KeyFile = \(certificates)/server.key
        Ports = \(tls ? String(port) : "")
        CipherList = SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3
        """
    }

    static func inspircdConfig(port: Int, certificates: String, directory: String, tls: Bool) -> String {
        """
        <server name="bench.chatterbox.local" description="Chatterbox benchmark" network="Bench">
        <admin name="bench" nick="bench" email="bench@localhost">
        <module name="ssl_gnutls">
        <sslprofile name="bench" provider="gnutls" certfile="\(certificates)/server.crt" keyfile="\(certificates)/server.key" cafile="" crlfile="" dhfile="" hash="sha256" priority="SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3" requestclientcert="no">
        <bind address="127.0.0.1" port="\(port)" type="clients"\(tls ? " sslprofile=\"bench\"" : "")>
        <connect allow="*" maxlocal="0" maxglobal="0" maxconnwarn="off" useident="no" limit="100000" threshold="1000000" commandrate="2000000000" fakelag="off" resolvehostnames="no" sendq="1073741824" recvq="1073741824" softsendq="1073741824" hardsendq="1073741824" pingfreq="3600" timeout="3600" localmax="100000" globalmax="100000" maxchans="100">
        <channels users="100000" opers="100000">
        <limits maxnick="30" maxchan="64" maxmodes="20" maxident="11" maxhost="64" maxquit="255" maxtopic="307" maxkick="255" maxreal="128" maxgecos="128" maxaway="200">
        <performance netbuffersize="65536" somaxconn="4096" softlimit="100000" clonesonconnect="no" timeskipwarn="0" quietbursts="yes">
        <security hideserver="" userstats="" customversion="" runasuser="" runasgroup="">
        <pid file="\(directory)/inspircd.pid">
        <log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="\(directory)/inspircd.log">
        <path configdir="\(directory)" datadir="\(directory)" logdir="\(directory)" moduledir="/usr/lib/inspircd/modules" runtimedir="\(directory)">
        """
    }
}
