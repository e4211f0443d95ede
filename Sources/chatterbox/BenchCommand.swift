public import ArgumentParser
import ChatBench
import ChatTLS
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a chat server: fan-out throughput and latency, memory per connection, login storms.",
        discussion: """
            Scenarios (docs/PERFORMANCE.md):
              a  100 clients, 10 senders, 500 msg/s
              b  1,000 clients, 10 senders, 100 msg/s
              c  highest sustainable rate at 100 clients with p99 under --p99-limit (50 ms)
              d  memory per idle connection at 1,000 and 10,000 connections
              e  1,000 clients logging in at once with 1,000 messages of history each
              custom  --clients, --senders, --rate, --seconds

            With --server the benchmark starts that server itself on 127.0.0.1 (pinned with
            --server-cpu), with TLS and its throttles off; run the benchmark pinned to another
            core: taskset -c 1 chatterbox bench --server chatterbox --server-cpu 0 --scenario a

            --generator c runs the C load generator (Benchmarks/loadgen) once per measured run,
            pinned with --generator-cpus, for scenarios a, b, c and custom: one core of it offers
            several times what the Swift generator can.
            """
    )

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case a, b, c, d, e, custom
    }

    enum Generator: String, ExpressibleByArgument, CaseIterable {
        case swift, c
    }

    @Option(help: "Scenario: \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario: Scenario = .custom

    @Option(help: "Server to start: chatterbox, ngircd or inspircd. Without it, --port of a running server is used.")
    var server: BenchServerKind?

    @Option(help: "Port of the running server, or for the started one (default: a free port).")
    var port: Int = 0

    @Option(help: "Protocol of a running server: chatterbox or irc.")
    var `protocol`: BenchProtocol = .chatterbox

    @Option(help: "PID of a running server, to sample its CPU and memory.")
    var serverPID: Int32?

    @Option(help: "CPU to pin a started server to.")
    var serverCPU: Int?

    @Flag(help: ArgumentHelp(
        "Run the load generator at nice -10 and a started server at nice -20, in a session (autogroup) at nice -20 (needs root or CAP_SYS_NICE).",
        discussion: "On a shared machine this keeps other work (compilers, other tests) from taking their CPUs. Where the kernel groups processes by session (autogroups), nice values count only within a session, so the bench also gives its session (which the server and the C generator share) nice -20: run it under setsid to keep that to the bench. Not SCHED_FIFO: the kernel throttles real-time threads that use 95% of a CPU, which stalls a saturated load generator for 50 ms at a time."))
    var highPriority = false

    @Option(help: "Event loop threads of a started Chatterbox server.")
    var serverThreads: Int?

    @Option(help: "Event loop threads of the load generator (worker threads of the C one).")
    var clientThreads: Int = 1

    @Option(help: "Load generator: swift (in this process) or c (Benchmarks/loadgen, a process per run).")
    var generator: Generator = .swift

    @Option(help: "The C load generator's executable (default: Benchmarks/loadgen/loadgen, built with make if needed).")
    var loadgen: String?

    @Option(name: .customLong("generator-cpus"), help: "CPUs to pin the C load generator to (taskset -c LIST), e.g. 1 or 0,1.")
    var generatorCPUs: String?

    @Flag(help: "C generator: spread the senders evenly over one interval instead of sending together.")
    var stagger = false

    @Option(name: .customLong("late-log"), help: "C generator: write to this file, per 10 ms of the window, the deliveries later than 5 ms (to see whether stalls recur).")
    var lateLog: String?

    @Flag(help: "Plain TCP instead of TLS.")
    var plaintext = false

    @Option(help: "Clients (custom scenario).")
    var clients: Int = 100

    @Option(help: "Clients that send (custom scenario).")
    var senders: Int = 10

    @Option(help: "Messages per second from all senders together (custom scenario).")
    var rate: Double = 500

    @Option(help: "Seconds measured (after a one-second warm-up).")
    var seconds: Double = 10

    @Option(help: "p99 bound for scenario c, in milliseconds.")
    var p99Limit: Double = 50

    @Option(help: "First rate scenario c tries, in messages per second.")
    var startRate: Double = 2000

    @Option(help: "Bytes of message content (frames are about 150 bytes with the default 100).")
    var contentLength: Int = 100

    @Option(help: "Connection counts of scenario d, comma-separated.")
    var idleCounts: String = "1000,10000"

    @Option(help: "Clients that log in and then stop reading, besides the measured ones.")
    var stalledClients: Int = 0

    @Option(help: "Seconds of sending before the measured window (Swift generator, custom scenario); 0 measures from the first message.")
    var warmup: Double = 1

    @Option(help: "Messages per second from one extra client (e.g. to see a rate limit protect the others).")
    var floodRate: Double = 0

    @Option(parsing: .unconditional, help: "Arguments for a started Chatterbox server instead of --no-limits, e.g. \"--max-connections-per-address 0\".")
    var serverArguments: String?

    @Option(help: "Write the machine-readable summary (JSON) to this file.")
    var json: String?

    func run() async throws {
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("chatterbox-bench-certificates").path
        _ = try LocalCertificateAuthority.loadOrCreate(in: certificates)
        var settings = BenchSettings(
            chatterboxExecutable: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path,
            certificates: certificates)
        settings.launch = server
        settings.port = port
        settings.externalProtocol = `protocol`
        settings.serverPID = serverPID
        settings.serverCPU = serverCPU
        settings.serverThreads = serverThreads
        if highPriority {
            // Per thread on Linux: threads started from here on (the generator's event loops) inherit it.
            guard setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10) == 0 else {
                throw ValidationError("--high-priority: cannot raise the priority (\(String(cString: strerror(errno)))); run as root or with CAP_SYS_NICE")
            }
            // With autogroups the session's weight counts between sessions, not the nice values
            // (these order the server, generator and bench within it): raise the session, which
            // the launched server and C generator share. Run the bench in a session of its own
            // (setsid), as run-comparison.sh does, so that nothing else shares the raise.
            LaunchedServer.setAutogroupNice(-20, pid: getpid())
            settings.serverNice = -20
        }
        settings.clientThreads = clientThreads
        settings.trust = plaintext ? nil : .insecure
        settings.contentLength = contentLength
        settings.stalledClients = stalledClients
        settings.warmupSeconds = max(0, warmup)
        settings.floodRate = floodRate
        settings.serverArguments = serverArguments.map { $0.split(separator: " ").map(String.init) } ?? []
        settings.progress = { Console.error($0) }
        if generator == .c {
            guard [.a, .b, .c, .custom].contains(scenario) else {
                throw ValidationError("--generator c runs scenarios a, b, c and custom; d and e need the Swift generator")
            }
            guard stalledClients == 0, floodRate == 0 else {
                throw ValidationError("--stalled-clients and --flood-rate need the Swift generator")
            }
            let executable = try loadgen ?? ExternalGenerator.defaultExecutable(near: settings.chatterboxExecutable)
            settings.externalGenerator = ExternalGenerator(
                executable: executable, cpus: generatorCPUs, nice: highPriority ? -10 : nil, threads: clientThreads,
                stagger: stagger, lateLog: lateLog)
        } else if stagger || lateLog != nil {
            throw ValidationError("--stagger and --late-log need --generator c")
        }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let summary: Data
        switch scenario {
        case .a, .b, .custom:
            let (clients, senders, rate) = switch scenario {
            case .a: (100, 10, 500.0)
            case .b: (1000, 10, 100.0)
            default: (self.clients, self.senders, self.rate)
            }
            let report = try await BenchScenarios.fanout(settings, clients: clients, senders: senders, rate: rate, seconds: seconds)
            Console.line(report.line)
            summary = try encoder.encode(report)
        case .c:
            let report = try await BenchScenarios.maximumRate(
                settings, clients: 100, senders: 10, p99Limit: p99Limit, startRate: startRate, probeSeconds: seconds)
            Console.line(report.line)
            summary = try encoder.encode(report)
        case .d:
            let reports = try await BenchScenarios.idle(settings, counts: idleCounts.split(separator: ",").compactMap { Int($0) })
            for report in reports { Console.line(report.line) }
            summary = try encoder.encode(reports)
        case .e:
            let report = try await BenchScenarios.loginStorm(settings, clients: 1000, history: 1000)
            Console.line(report.line)
            summary = try encoder.encode(report)
        }
        if let json {
            try summary.write(to: URL(fileURLWithPath: json))
        } else {
            Console.line(String(decoding: summary, as: UTF8.self))
        }
    }
}

extension BenchServerKind: ExpressibleByArgument {}
extension BenchProtocol: ExpressibleByArgument {}
