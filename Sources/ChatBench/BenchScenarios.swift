import ChatProcess
public import ChatTLS
import Foundation
import Histogram

/// Where and how a benchmark runs.
public struct BenchSettings: Sendable {
    /// The server to start for the run; `nil` to use one already running at `host`:`port`.
    public var launch: BenchServerKind?
    public var host = "127.0.0.1"
    /// 0: a free port for a launched server.
    public var port = 0
    /// The process to sample for CPU and memory (set automatically when launching).
    public var serverPID: Int32?
    /// The protocol of an external server.
    public var externalProtocol: BenchProtocol = .chatterbox
    /// CPU to pin a launched server to.
    public var serverCPU: Int?
    /// Nice value of a launched server (below 0: ahead of other work on a shared machine);
    /// `nil` to leave it as it is.
    public var serverNice: Int?
    /// Event loop threads of a launched Chatterbox server (default: its own choice).
    public var serverThreads: Int?
    /// Event loop threads of the load generator.
    public var clientThreads = 1
    /// How clients trust the server; `nil` for plain TCP.
    public var trust: TLSContexts.ServerTrust? = .insecure
    /// The `chatterbox` executable, to launch Chatterbox servers.
    public var chatterboxExecutable: String
    /// A directory with ca.crt, server.crt and server.key used by every launched server.
    public var certificates: String
    /// Bytes of message content (frames are about 50 bytes longer).
    public var contentLength = 100
    /// Extra arguments for a launched Chatterbox server (e.g. to keep its limits on).
    public var serverArguments: [String] = []
    /// Clients that log in and then stop reading, alongside the measured ones.
    public var stalledClients = 0
    /// Seconds of sending before the measured window (custom fan-out with the Swift generator).
    public var warmupSeconds = 1.0
    /// Messages per second from one extra, unmeasured client during the run.
    public var floodRate = 0.0
    /// The C load generator, one process per run; `nil` for the Swift generator in this process.
    public var externalGenerator: ExternalGenerator?
    public var progress: @Sendable (String) -> Void = { _ in }

    public init(chatterboxExecutable: String, certificates: String) {
        self.chatterboxExecutable = chatterboxExecutable
        self.certificates = certificates
    }

    var serverName: String { launch?.rawValue ?? "external" }
}

/// The benchmark scenarios of docs/PERFORMANCE.md.
public enum BenchScenarios {
    /// Runs `body` against the configured server, launching (and stopping) it if asked.
    static func withServer<Result: Sendable>(
        _ settings: BenchSettings,
        _ body: (LoadTarget, Int32?) async throws -> Result
    ) async throws -> Result {
        guard let kind = settings.launch else {
            let target = LoadTarget(host: settings.host, port: settings.port, protocol: settings.externalProtocol, tls: settings.trust)
            return try await body(target, settings.serverPID)
        }
        let server = try await LaunchedServer.launch(
            kind, port: settings.port, cpu: settings.serverCPU, nice: settings.serverNice, chatterbox: settings.chatterboxExecutable,
            certificates: settings.certificates, threads: settings.serverThreads, tls: settings.trust != nil,
            extraArguments: settings.serverArguments)
        do {
            let trust = settings.trust.map { _ in TLSContexts.ServerTrust.certificateAuthorityFile(server.caFile) }
            let target = LoadTarget(host: "127.0.0.1", port: server.port, protocol: kind.wireProtocol, tls: trust)
            let result = try await body(target, server.pid)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// N clients, S of them sending broadcasts at `rate` messages per second in all.
    public static func fanout(_ settings: BenchSettings, clients: Int, senders: Int, rate: Double, seconds: Double) async throws -> RunReport {
        try await withServer(settings) { target, pid in
            if let external = settings.externalGenerator {
                settings.progress("\(settings.serverName): C generator, \(clients) clients, \(senders) senders, \(Int(rate)) msg/s for \(seconds) s")
                return try await external.run(
                    target: target, clients: clients, senders: senders, rate: rate, seconds: seconds,
                    contentLength: settings.contentLength, serverName: settings.serverName, serverPID: pid, progress: settings.progress)
            }
            let generator = try LoadGenerator(target: target, threads: settings.clientThreads)
            do {
                settings.progress("\(settings.serverName): connecting \(clients) clients")
                _ = try await generator.connect(count: clients) { settings.progress("  \($0) logged in") }
                if settings.stalledClients > 0 {
                    settings.progress("  \(settings.stalledClients) more clients log in and stop reading")
                    try await generator.addStalledClients(settings.stalledClients)
                }
                if settings.floodRate > 0 {
                    _ = try await generator.addFlooder()
                    settings.progress("  one more client floods at \(Int(settings.floodRate)) msg/s")
                }
                settings.progress("\(settings.serverName): \(senders) senders, \(Int(rate)) msg/s for \(seconds) s")
                let measurement = try await generator.run(
                    senders: senders, rate: rate, seconds: seconds, warmup: settings.warmupSeconds, contentLength: settings.contentLength,
                    floodRate: settings.floodRate, serverPID: pid, progress: settings.progress)
                var report = RunReport(server: settings.serverName, clients: clients, senders: senders, measurement: measurement)
                if settings.stalledClients > 0 { report.stalledClients = settings.stalledClients }
                await generator.shutdown()
                return report
            } catch {
                await generator.shutdown()
                throw error
            }
        }
    }

    /// The highest offered rate whose p99 stays under `p99Limit` ms with nothing lost: the
    /// rate doubles until a probe fails, then bisects between the last pass and the failure.
    public static func maximumRate(
        _ settings: BenchSettings, clients: Int, senders: Int, p99Limit: Double,
        startRate: Double, probeSeconds: Double, steps: Int = 5
    ) async throws -> MaximumRateReport {
        try await withServer(settings) { target, pid in
            if let external = settings.externalGenerator {
                // A fresh generator process per probe: it connects its clients, runs, and exits.
                return try await bisect(settings, clients: clients, p99Limit: p99Limit, startRate: startRate, steps: steps) { rate in
                    try await external.run(
                        target: target, clients: clients, senders: senders, rate: rate, seconds: probeSeconds,
                        contentLength: settings.contentLength, serverName: settings.serverName, serverPID: pid,
                        progress: { line in if !line.hasPrefix("  t=") { settings.progress(line) } })
                }
            }
            let generator = try LoadGenerator(target: target, threads: settings.clientThreads)
            do {
                _ = try await generator.connect(count: clients)
                let report = try await bisect(settings, clients: clients, p99Limit: p99Limit, startRate: startRate, steps: steps) { rate in
                    let measurement = try await generator.run(
                        senders: senders, rate: rate, seconds: probeSeconds, contentLength: settings.contentLength,
                        serverPID: pid)
                    return RunReport(server: settings.serverName, clients: clients, senders: senders, measurement: measurement)
                }
                await generator.shutdown()
                return report
            } catch {
                await generator.shutdown()
                throw error
            }
        }
    }

    /// Doubles the rate from `startRate` until a probe fails, then bisects between the last
    /// pass and the failure.
    private static func bisect(
        _ settings: BenchSettings, clients: Int, p99Limit: Double, startRate: Double, steps: Int,
        probe: (Double) async throws -> RunReport
    ) async throws -> MaximumRateReport {
        var probes: [RunReport] = []
        var best: RunReport?
        var low = 0.0
        var high: Double?
        var rate = startRate
        for _ in 0..<(steps + 12) {
            let report = try await probe(rate)
            probes.append(report)
            let held = report.lost == 0 && report.latencyMilliseconds.p99 <= p99Limit
            settings.progress((held ? "  held: " : "  failed: ") + report.line)
            if held {
                low = rate
                if best == nil || report.deliveriesPerSecond > best!.deliveriesPerSecond { best = report }
            } else {
                high = rate
            }
            if let high {
                if high / max(low, 1) < 1.06 || probes.count >= steps + 12 { break }
                rate = low > 0 ? (low + high) / 2 : high / 2
            } else {
                rate *= 2
            }
            // Let queues empty between probes.
            try await Task.sleep(for: .seconds(1))
        }
        return MaximumRateReport(server: settings.serverName, clients: clients, p99LimitMilliseconds: p99Limit, best: best, probes: probes)
    }

    /// Server memory per idle, logged-in TLS connection, at each of `counts` connections.
    public static func idle(_ settings: BenchSettings, counts: [Int]) async throws -> [IdleReport] {
        try await withServer(settings) { target, pid in
            guard let pid else { throw BenchError("the idle scenario needs the server's PID (--server-pid)") }
            let generator = try LoadGenerator(target: target, threads: settings.clientThreads)
            do {
                // One connection first, so that lazily built state is not counted per connection.
                _ = try await generator.connect(count: 1, prefix: "warm")
                try await Task.sleep(for: .milliseconds(500))
                guard let baseline = ProcessStats.read(pid: pid) else { throw BenchError("cannot read /proc/\(pid)") }
                var reports: [IdleReport] = []
                for count in counts.sorted() {
                    let missing = count - (generator.connectedCount - 1)
                    if missing > 0 {
                        _ = try await generator.connect(count: missing, parallel: 64) { settings.progress("  \($0) more connected") }
                    }
                    // Idle means idle: the joins' notices (every login is announced to everyone)
                    // have been delivered and the server's CPU has gone quiet — and has stayed
                    // quiet long enough for a server that gives freed memory back when idle
                    // (Chatterbox checks every 5 s) to have done so: the steady state, not
                    // the storm's high-water mark, which differed from run to run by 3 KB per
                    // connection depending on whether the measurement came before or after.
                    try await waitUntilQuiet(pid: pid, progress: settings.progress)
                    try await Task.sleep(for: idleSettling)
                    guard let now = ProcessStats.read(pid: pid) else { throw BenchError("cannot read /proc/\(pid)") }
                    let report = IdleReport(
                        server: settings.serverName, connections: count, rssBeforeBytes: baseline.residentBytes,
                        rssAfterBytes: now.residentBytes, bytesPerConnection: (now.residentBytes - baseline.residentBytes) / count)
                    settings.progress(report.line)
                    reports.append(report)
                }
                await generator.shutdown()
                return reports
            } catch {
                await generator.shutdown()
                throw error
            }
        }
    }

    /// How long a quiet server is left alone before its idle memory is read.
    static let idleSettling: Duration = .seconds(11)

    /// Waits until `pid` uses under 2% of a CPU over half a second (at most two minutes).
    private static func waitUntilQuiet(pid: Int32, progress: @Sendable (String) -> Void) async throws {
        let deadline = monotonicNanos() + 120_000_000_000
        var previous = ProcessStats.read(pid: pid)?.cpuSeconds ?? 0
        while monotonicNanos() < deadline {
            try await Task.sleep(for: .milliseconds(500))
            let now = ProcessStats.read(pid: pid)?.cpuSeconds ?? 0
            if now - previous < 0.01 { return }
            previous = now
        }
        progress("  the server is still busy after two minutes; measuring anyway")
    }

    /// `clients` clients logging in at once on a server holding `history` messages each sees.
    public static func loginStorm(_ settings: BenchSettings, clients: Int, history: Int) async throws -> LoginStormReport {
        try await withServer(settings) { target, pid in
            guard target.protocol == .chatterbox else { throw BenchError("the login storm needs history: Chatterbox only") }
            let writer = try LoadGenerator(target: target, threads: 1)
            _ = try await writer.connect(count: 1, prefix: "historian")
            settings.progress("\(settings.serverName): writing \(history) messages of history")
            _ = try await writer.run(senders: 1, rate: Double(history), seconds: 1, warmup: 0, contentLength: settings.contentLength, serverPID: nil)
            await writer.shutdown()
            try await Task.sleep(for: .milliseconds(500))

            let generator = try LoadGenerator(target: target, threads: settings.clientThreads)
            do {
                let before = pid.flatMap(ProcessStats.read)
                let start = Date()
                settings.progress("\(settings.serverName): \(clients) clients log in at once")
                let latencies = try await generator.connect(count: clients, parallel: clients)
                let seconds = Date().timeIntervalSince(start)
                let after = pid.flatMap(ProcessStats.read)
                await generator.shutdown()
                return LoginStormReport(
                    server: settings.serverName, clients: clients, historyMessages: history, seconds: seconds,
                    loginLatencyMilliseconds: LatencySummary(latencies),
                    serverCPUSeconds: before.flatMap { b in after.map { $0.cpuSeconds - b.cpuSeconds } },
                    serverRSSBytes: after?.residentBytes)
            } catch {
                await generator.shutdown()
                throw error
            }
        }
    }
}
