import ChatProcess
import ChatTLS
import Foundation
import NIOConcurrencyHelpers

/// The C load generator (Benchmarks/loadgen) as a child process: one process per measured run,
/// pinned with `taskset`. It offers far more deliveries per second than the Swift generator on
/// one core, so the highest-rate scenario measures the server rather than the generator.
///
/// The server is sampled from /proc here, as for the Swift generator, at the two markers the
/// process prints on stderr: when the measured window starts and when the deliveries have drained.
public struct ExternalGenerator: Sendable {
    /// The `loadgen` executable.
    public var executable: String
    /// CPUs for `taskset -c` (e.g. "1" or "0,1"); `nil` to inherit this process's.
    public var cpus: String?
    /// Absolute nice value the generator sets for itself; `nil` to leave it.
    public var nice: Int?
    /// Worker threads, each with its own epoll set and share of the clients.
    public var threads: Int
    /// Spread the senders evenly over one interval instead of sending together, so that each
    /// message is fanned out on its own (`--stagger` of loadgen).
    public var stagger: Bool
    /// A file for the late deliveries per 10 ms of the window (`--late-log` of loadgen; a
    /// scenario c probe overwrites the previous one's).
    public var lateLog: String?

    public init(executable: String, cpus: String?, nice: Int?, threads: Int, stagger: Bool = false, lateLog: String? = nil) {
        self.executable = executable
        self.cpus = cpus
        self.nice = nice
        self.threads = threads
        self.stagger = stagger
        self.lateLog = lateLog
    }

    /// The default executable: `Benchmarks/loadgen/loadgen` of the checkout that holds
    /// `chatterboxExecutable` (or of the current directory), brought up to date with `make`.
    public static func defaultExecutable(near chatterboxExecutable: String) throws -> String {
        let fileManager = FileManager.default
        var candidates = [fileManager.currentDirectoryPath]
        var directory = URL(fileURLWithPath: chatterboxExecutable).deletingLastPathComponent()
        while directory.path != "/" {
            candidates.append(directory.path)
            directory.deleteLastPathComponent()
        }
        let howToBuild = "build it with `make -C Benchmarks/loadgen` (needs gcc, make and libssl-dev), or pass --loadgen PATH"
        guard let root = candidates.first(where: { fileManager.fileExists(atPath: $0 + "/Benchmarks/loadgen/Makefile") }) else {
            throw BenchError("cannot find Benchmarks/loadgen from here or beside \(chatterboxExecutable): \(howToBuild)")
        }
        let loadgen = root + "/Benchmarks/loadgen"
        let status: Int32
        do {
            // make's output goes to our stderr, beside the bench's progress.
            status = SpawnedProcess(pid: try Spawn.start("/usr/bin/env", ["make", "-s", "-C", loadgen], output: .descriptor(2), errors: .descriptor(2))).waitUntilExit()
        } catch {
            throw BenchError("cannot run make for the C load generator (\(error)): \(howToBuild)")
        }
        guard status == 0, fileManager.isExecutableFile(atPath: loadgen + "/loadgen") else {
            throw BenchError("building the C load generator failed: \(howToBuild)")
        }
        return loadgen + "/loadgen"
    }

    /// One measured run: `clients` clients log in, the first `senders` send `rate` broadcasts
    /// per second in all for `warmup + seconds`, the last `seconds` measured.
    public func run(
        target: LoadTarget, clients: Int, senders: Int, rate: Double, seconds: Double, warmup: Double = 1,
        contentLength: Int, serverName: String, serverPID: Int32?, progress: @escaping @Sendable (String) -> Void
    ) async throws -> RunReport {
        var command = [executable] + (try arguments(for: target)) + [
            "--clients", String(clients), "--senders", String(senders), "--rate", String(rate),
            "--seconds", String(seconds), "--warmup", String(warmup), "--content-length", String(contentLength),
            "--threads", String(threads),
        ]
        if let nice { command += ["--nice", String(nice)] }
        if stagger { command.append("--stagger") }
        if let lateLog { command += ["--late-log", lateLog] }
        if let cpus { command = ["/usr/bin/taskset", "-c", cpus] + command }

        let output = Pipe()
        let errors = Pipe()
        let process: SpawnedProcess
        do {
            defer {
                // The child holds the write ends now; ours would keep the reads from ending.
                try? output.fileHandleForWriting.close()
                try? errors.fileHandleForWriting.close()
            }
            process = SpawnedProcess(pid: try Spawn.start(
                command[0], Array(command.dropFirst()),
                output: .descriptor(output.fileHandleForWriting.fileDescriptor),
                errors: .descriptor(errors.fileHandleForWriting.fileDescriptor)
            ))
        }
        let samples = NIOLockedValueBox(ServerSamples())

        // Kill a generator that overruns its run by far (it bounds its own login and drain).
        let limit = UInt64((warmup + seconds + 300) * 1e9)
        let watchdog = Task {
            try await Task.sleep(nanoseconds: limit)
            if process.isRunning { process.terminate() }
        }
        defer { watchdog.cancel() }

        async let stderrTail = Self.readLines(errors.fileHandleForReading) { line in
            switch line {
            case "loadgen: window start":
                let stats = serverPID.flatMap(ProcessStats.read)
                samples.withLockedValue { $0.atWindowStart = stats }
            case "loadgen: drained":
                let stats = serverPID.flatMap(ProcessStats.read)
                samples.withLockedValue { $0.afterDrain = stats }
            case "loadgen: window end":
                break
            default:
                progress(line)
            }
        }
        async let stdout = Self.readAll(output.fileHandleForReading)
        let (tail, json) = await (stderrTail, stdout)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }

        let status = process.waitUntilExit()
        guard status == 0 else {
            throw BenchError("the C load generator failed (status \(status)):\n" + tail.joined(separator: "\n"))
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let summary: ExternalRunSummary
        do {
            summary = try decoder.decode(ExternalRunSummary.self, from: json)
        } catch {
            throw BenchError("cannot read the C load generator's summary (\(error)): \(String(decoding: json, as: UTF8.self))")
        }
        let failures = summary.connectFailures + summary.loginFailures
        guard failures == 0 else {
            throw BenchError("the C load generator could not log in \(failures) of \(clients) clients:\n" + tail.joined(separator: "\n"))
        }
        let sampled = samples.withLockedValue { $0 }
        return RunReport(server: serverName, external: summary, serverBefore: sampled.atWindowStart, serverAfter: sampled.afterDrain)
    }

    private func arguments(for target: LoadTarget) throws -> [String] {
        var arguments = ["--host", target.host, "--port", String(target.port), "--protocol", target.protocol.rawValue]
        switch target.tls {
        case nil: arguments.append("--plaintext")
        case .insecure?: arguments.append("--insecure")
        case .certificateAuthorityFile(let path)?: arguments += ["--ca", path]
        case .system?: arguments += ["--ca", "/etc/ssl/certs/ca-certificates.crt"]
        }
        return arguments
    }

    private struct ServerSamples: Sendable {
        var atWindowStart: ProcessStats?
        var afterDrain: ProcessStats?
    }

    /// Calls `body` with each line until end of file, on a thread of its own; returns the last
    /// 20 lines (for an error message).
    private static func readLines(_ handle: FileHandle, _ body: @escaping @Sendable (String) -> Void) async -> [String] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var pending = Data()
                var tail: [String] = []
                func emit(_ bytes: Data) {
                    let line = String(decoding: bytes, as: UTF8.self)
                    tail.append(line)
                    if tail.count > 20 { tail.removeFirst() }
                    body(line)
                }
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        emit(pending[pending.startIndex..<newline])
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                if !pending.isEmpty { emit(pending) }
                continuation.resume(returning: tail)
            }
        }
    }

    private static func readAll(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }
}

/// What the C load generator prints on stdout (snake_case keys).
struct ExternalRunSummary: Decodable, Sendable {
    struct Latency: Decodable, Sendable {
        var p50: Double
        var p99: Double
        var p999: Double
        var max: Double
    }

    var clients: Int
    var senders: Int
    var clientsLoggedIn: Int
    var connectFailures: Int
    var loginFailures: Int
    var clientsDropped: Int
    var offeredMessagesPerSecond: Double
    var seconds: Double
    var messagesSent: UInt64
    var expectedDeliveries: UInt64
    var deliveries: UInt64
    var measuredDeliveries: UInt64
    var deliveriesPerSecond: Double
    var deliveriesSinceWindowStart: UInt64
    var lost: Int64
    var latencyMs: Latency
    var generatorCpuSecondsInWindow: Double
    var cipher: String
}
