public import ChatProcess
import ChatProtocol
public import ChatTLS
import Foundation
public import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// How the load generator reaches the server.
public struct LoadTarget: Sendable {
    public var host: String
    public var port: Int
    public var `protocol`: BenchProtocol
    /// `nil` for plain TCP.
    public var tls: TLSContexts.ServerTrust?

    public init(host: String, port: Int, protocol: BenchProtocol, tls: TLSContexts.ServerTrust?) {
        self.host = host
        self.port = port
        self.protocol = `protocol`
        self.tls = tls
    }
}

/// Numbers of one timed run.
public struct RunMeasurement: Sendable {
    public var offeredRate: Double
    public var seconds: Double
    public var sent: UInt64
    public var expectedDeliveries: UInt64
    public var deliveries: UInt64
    public var latency: Histogram<UInt64>
    public var serverBefore: ProcessStats?
    public var serverAfter: ProcessStats?
    /// Deliveries between the two server samples.
    public var deliveriesBetweenSamples: UInt64

    public var lost: Int64 { Int64(expectedDeliveries) - Int64(deliveries) }
}

/// Drives many benchmark clients against one server from a multi-threaded event loop group.
public final class LoadGenerator: Sendable {
    public let target: LoadTarget
    let group: MultiThreadedEventLoopGroup
    let stats: StatsRegistry
    private let sslContext: NIOSSLContext?
    private let clients: NIOLockedValueBox<[ConnectedClient]>
    /// Clients that are not measured: ones that stopped reading, and a flooder.
    private let bystanders: NIOLockedValueBox<[ConnectedClient]>

    struct ConnectedClient: Sendable {
        var name: String
        var channel: any Channel
    }

    public init(target: LoadTarget, threads: Int) throws {
        self.target = target
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        stats = StatsRegistry(group: group)
        sslContext = try target.tls.map { try TLSContexts.client(trust: $0) }
        clients = NIOLockedValueBox([])
        bystanders = NIOLockedValueBox([])
    }

    /// Connects `count` clients that log in and then stop reading, as a client on a dead
    /// link or a hostile one would; they are not measured.
    public func addStalledClients(_ count: Int) async throws {
        for index in 0..<count {
            let (client, _) = try await connectOne(name: "stalled\(index)")
            try await client.channel.setOption(ChannelOptions.autoRead, value: false).get()
            bystanders.withLockedValue { $0.append(client) }
        }
    }

    /// Connects a client that will send unmeasured broadcasts at `rate` during each run.
    public func addFlooder() async throws -> String {
        let (client, _) = try await connectOne(name: "flooder")
        bystanders.withLockedValue { $0.append(client) }
        return client.name
    }

    public var connectedCount: Int { clients.withLockedValue { $0.count } }

    /// Connects and logs in `count` more clients named `prefix0`, `prefix1`, …, with at most
    /// `parallel` attempts in flight. Returns each login's latency in microseconds.
    public func connect(count: Int, prefix: String = "bench", parallel: Int = 128, progress: @Sendable (Int) -> Void = { _ in }) async throws -> Histogram<UInt64> {
        var latencies = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        let start = connectedCount
        try await withThrowingTaskGroup(of: (ConnectedClient, UInt64).self) { group in
            var next = start
            var done = 0
            func launch() {
                let index = next
                next += 1
                group.addTask { try await self.connectOne(name: "\(prefix)\(index)") }
            }
            while next < start + min(count, parallel) { launch() }
            for try await (client, micros) in group {
                clients.withLockedValue { $0.append(client) }
                _ = latencies.record(micros)
                done += 1
                if done % 500 == 0 { progress(done) }
                if next < start + count { launch() }
            }
        }
        return latencies
    }

    private func connectOne(name: String) async throws -> (ConnectedClient, UInt64) {
        let began = monotonicNanos()
        let protocolKind = target.protocol
        let sslContext = self.sslContext
        let serverHostname = TLSContexts.serverHostname(for: target.host)
        let stats = self.stats
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(30))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                    }
                    switch protocolKind {
                    case .chatterbox:
                        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameLength: 64 << 20)))
                    case .irc:
                        try pipeline.addHandler(ByteToMessageHandler(LineDecoder()))
                    }
                }
            }
            .connect(host: target.host, port: target.port).get()
        let loggedIn = channel.eventLoop.makePromise(of: Void.self)
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(
                BenchClientHandler(name: name, protocol: protocolKind, stats: stats, loggedIn: loggedIn))
        }.get()
        if channel.isActive { channel.pipeline.fireChannelActive() }
        try await loggedIn.futureResult.get()
        return (ConnectedClient(name: name, channel: channel), (monotonicNanos() - began) / 1000)
    }

    /// Sends broadcasts from the first `senders` clients at `rate` messages per second in all
    /// for `warmup + seconds`, measuring the last `seconds`; then waits for the deliveries.
    public func run(
        senders: Int, rate: Double, seconds: Double, warmup: Double = 1, contentLength: Int = 100,
        floodRate: Double = 0, serverPID: Int32?, progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> RunMeasurement {
        let all = clients.withLockedValue { $0 }
        guard senders >= 1, senders <= all.count else { throw BenchError("need 1...\(all.count) senders") }
        let start = monotonicNanos() + 50_000_000
        let windowStart = start + UInt64(warmup * 1e9)
        let end = windowStart + UInt64(seconds * 1e9)
        try await stats.reset(window: windowStart...end)
        let perSender = rate / Double(senders)
        var tasks = all.prefix(senders).enumerated().map { index, client in
            SenderTask.start(
                channel: client.channel, name: client.name, index: index, rate: perSender,
                start: start, end: end, contentLength: contentLength, protocol: target.protocol, stats: stats)
        }
        if floodRate > 0, let flooder = bystanders.withLockedValue({ $0.first { $0.name == "flooder" } }) {
            tasks.append(SenderTask.start(
                channel: flooder.channel, name: flooder.name, index: -1, rate: floodRate, start: start, end: end,
                contentLength: contentLength, protocol: target.protocol, stats: nil))
        }

        // Sample the server at the start of the window.
        while monotonicNanos() < windowStart { try await Task.sleep(for: .milliseconds(5)) }
        let before = serverPID.flatMap(ProcessStats.read)
        let deliveriesAtStart = try await stats.snapshot().deliveries
        var lastReport = monotonicNanos()
        var lastDeliveries = deliveriesAtStart
        while monotonicNanos() < end {
            try await Task.sleep(for: .milliseconds(200))
            let now = monotonicNanos()
            if now - lastReport >= 1_000_000_000 {
                let snapshot = try await stats.snapshot()
                let perSecond = Double(snapshot.deliveries - lastDeliveries) / (Double(now - lastReport) / 1e9)
                progress(String(format: "  t=%4.1fs sent=%d deliveries=%d (%.0f/s) p99=%.2fms",
                                Double(now - windowStart) / 1e9, snapshot.sent, snapshot.deliveries, perSecond,
                                Double(snapshot.latency.valueAtPercentile(99)) / 1000))
                lastReport = now
                lastDeliveries = snapshot.deliveries
            }
        }
        for task in tasks { task.cancel() }

        // Drain: everything expected arrives, or nothing more comes for two seconds.
        let recipients = UInt64(all.count - (target.protocol.echoesToSender ? 0 : 1))
        var snapshot = try await stats.snapshot()
        var lastChange = monotonicNanos()
        var previous = snapshot.deliveries
        while snapshot.deliveries < snapshot.sent * recipients, monotonicNanos() - lastChange < 2_000_000_000 {
            try await Task.sleep(for: .milliseconds(50))
            snapshot = try await stats.snapshot()
            if snapshot.deliveries != previous {
                previous = snapshot.deliveries
                lastChange = monotonicNanos()
            }
        }
        let after = serverPID.flatMap(ProcessStats.read)
        return RunMeasurement(
            offeredRate: rate, seconds: seconds, sent: snapshot.sent, expectedDeliveries: snapshot.sent * recipients,
            deliveries: snapshot.deliveries, latency: snapshot.latency, serverBefore: before, serverAfter: after,
            deliveriesBetweenSamples: snapshot.deliveries - deliveriesAtStart
        )
    }

    /// Closes every client and the event loops.
    public func shutdown() async {
        let all = clients.withLockedValue { clients in
            defer { clients = [] }
            return clients
        } + bystanders.withLockedValue { clients in
            defer { clients = [] }
            return clients
        }
        for client in all { client.channel.close(promise: nil) }
        try? await group.shutdownGracefully()
    }
}

/// Sends one client's share of the load on its event loop, in 1 ms ticks. Messages have
/// intended send times on a fixed schedule; a tick sends every message that is due, so
/// latency counts from when a message should have gone out (no coordinated omission).
/// Without `stats` the messages carry no measurement marker (a flooder's).
enum SenderTask {
    static func start(
        channel: any Channel, name: String, index: Int, rate: Double, start: UInt64, end: UInt64,
        contentLength: Int, protocol: BenchProtocol, stats: StatsRegistry?
    ) -> RepeatedTask {
        let intervalNanos = 1e9 / rate
        let total = Int(Double(end - start) / intervalNanos)
        let sent = NIOLoopBoundBox.makeBoxSendingValue(0, eventLoop: channel.eventLoop)
        let now = monotonicNanos()
        let delay = start > now ? start - now : 0
        return channel.eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(Int64(delay)), delay: .milliseconds(1)) { task in
            let now = monotonicNanos()
            guard now >= start else { return }
            let due = min(total, Int(Double(now - start) / intervalNanos) + 1)
            guard due > sent.value else { return }
            guard channel.isWritable else { return }  // the server pushes back: messages wait, their latency grows
            let count = min(due - sent.value, 2000)
            var buffer = channel.allocator.buffer(capacity: count * (contentLength + 64))
            for sequence in sent.value..<(sent.value + count) {
                let intended = start + UInt64(Double(sequence) * intervalNanos)
                BenchWire.broadcast(from: name, sender: index, sequence: sequence, intendedNanos: intended,
                                    contentLength: contentLength, protocol: `protocol`, measured: stats != nil, into: &buffer)
            }
            sent.value += count
            stats?.local(channel.eventLoop).sent += UInt64(count)
            channel.writeAndFlush(buffer, promise: nil)
            if sent.value >= total { task.cancel() }
        }
    }
}
