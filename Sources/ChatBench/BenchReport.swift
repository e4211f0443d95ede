import ChatProcess
import Foundation
import Histogram

/// Latency percentiles, in milliseconds.
public struct LatencySummary: Sendable, Codable {
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var max: Double

    init(_ histogram: Histogram<UInt64>) {
        func milliseconds(_ micros: UInt64) -> Double { (Double(micros) / 1000 * 1000).rounded() / 1000 }
        p50 = milliseconds(histogram.valueAtPercentile(50))
        p99 = milliseconds(histogram.valueAtPercentile(99))
        p999 = milliseconds(histogram.valueAtPercentile(99.9))
        max = milliseconds(histogram.max)
    }

    init(p50: Double, p99: Double, p999: Double, max: Double) {
        self.p50 = p50
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }
}

/// The machine-readable summary of one measured run.
public struct RunReport: Sendable, Codable {
    public var server: String
    public var clients: Int
    public var senders: Int
    public var offeredMessagesPerSecond: Double
    public var seconds: Double
    public var messagesSent: UInt64
    public var deliveries: UInt64
    public var deliveriesPerSecond: Double
    public var lost: Int64
    public var latencyMilliseconds: LatencySummary
    public var serverCPUSeconds: Double?
    public var serverCPUSecondsPerMillionDeliveries: Double?
    public var serverRSSBytes: Int?
    /// The server's highest RSS since it started, read at the end of the run.
    public var serverPeakRSSBytes: Int?
    /// Clients that stopped reading, besides the measured ones. (Whether the server dropped
    /// them cannot be seen from here: a client that does not read does not see the close.)
    public var stalledClients: Int?
    /// `c` when the C load generator (Benchmarks/loadgen) measured the run; absent for the Swift one.
    public var generator: String?
    /// CPU seconds the C load generator used during the measured window (its headroom:
    /// near `seconds` per thread means it, not the server, may set the latency).
    public var generatorCPUSeconds: Double?

    init(server: String, clients: Int, senders: Int, measurement: RunMeasurement) {
        self.server = server
        self.clients = clients
        self.senders = senders
        offeredMessagesPerSecond = measurement.offeredRate
        seconds = measurement.seconds
        messagesSent = measurement.sent
        deliveries = measurement.deliveries
        deliveriesPerSecond = (Double(measurement.latency.totalCount) / measurement.seconds).rounded()
        lost = measurement.lost
        latencyMilliseconds = LatencySummary(measurement.latency)
        // Explicitly nil: left to their implicit initial value, stalledClients read as garbage
        // in release builds (Swift 6.3.1; seen as "7440303175170666312 stalled clients").
        stalledClients = nil
        generator = nil
        generatorCPUSeconds = nil
        if let before = measurement.serverBefore, let after = measurement.serverAfter {
            let cpu = after.cpuSeconds - before.cpuSeconds
            serverCPUSeconds = cpu
            if measurement.deliveriesBetweenSamples > 0 {
                serverCPUSecondsPerMillionDeliveries = (cpu / Double(measurement.deliveriesBetweenSamples) * 1e6 * 100).rounded() / 100
            }
            serverRSSBytes = after.residentBytes
            serverPeakRSSBytes = after.peakResidentBytes
        } else {
            serverPeakRSSBytes = nil
        }
    }

    init(server: String, external summary: ExternalRunSummary, serverBefore: ProcessStats?, serverAfter: ProcessStats?) {
        self.server = server
        clients = summary.clients
        senders = summary.senders
        offeredMessagesPerSecond = summary.offeredMessagesPerSecond
        seconds = summary.seconds
        messagesSent = summary.messagesSent
        deliveries = summary.deliveries
        deliveriesPerSecond = summary.deliveriesPerSecond
        lost = summary.lost
        let latency = summary.latencyMs
        latencyMilliseconds = LatencySummary(p50: latency.p50, p99: latency.p99, p999: latency.p999, max: latency.max)
        stalledClients = nil
        if let before = serverBefore, let after = serverAfter {
            let cpu = after.cpuSeconds - before.cpuSeconds
            serverCPUSeconds = cpu
            if summary.deliveriesSinceWindowStart > 0 {
                serverCPUSecondsPerMillionDeliveries = (cpu / Double(summary.deliveriesSinceWindowStart) * 1e6 * 100).rounded() / 100
            }
            serverRSSBytes = after.residentBytes
            serverPeakRSSBytes = after.peakResidentBytes
        } else {
            serverPeakRSSBytes = nil
        }
        generator = "c"
        generatorCPUSeconds = summary.generatorCpuSecondsInWindow
    }

    /// One line for the screen.
    public var line: String {
        var text = String(
            format: "%@ clients=%d senders=%d offered=%.0f msg/s: %.0f deliveries/s, lost %lld, latency p50 %.2f p99 %.2f p99.9 %.2f max %.2f ms",
            server, clients, senders, offeredMessagesPerSecond, deliveriesPerSecond, lost,
            latencyMilliseconds.p50, latencyMilliseconds.p99, latencyMilliseconds.p999, latencyMilliseconds.max)
        if let cpu = serverCPUSecondsPerMillionDeliveries { text += String(format: ", %.2f CPU-s per million deliveries", cpu) }
        if let rss = serverRSSBytes { text += ", RSS \(rss / 1_048_576) MiB" }
        if let peak = serverPeakRSSBytes, peak > 0 { text += " (peak \(peak / 1_048_576) MiB)" }
        if let stalledClients { text += ", \(stalledClients) stalled clients" }
        if let generatorCPUSeconds { text += String(format: ", C generator at %.0f%% CPU", 100 * generatorCPUSeconds / seconds) }
        return text
    }
}

/// Memory held per idle connection.
public struct IdleReport: Sendable, Codable {
    public var server: String
    public var connections: Int
    public var rssBeforeBytes: Int
    public var rssAfterBytes: Int
    public var bytesPerConnection: Int

    public var line: String {
        "\(server) \(connections) idle connections: \(bytesPerConnection) bytes each (RSS \(rssBeforeBytes / 1_048_576) → \(rssAfterBytes / 1_048_576) MiB)"
    }
}

/// Logins at once against a server with history.
public struct LoginStormReport: Sendable, Codable {
    public var server: String
    public var clients: Int
    public var historyMessages: Int
    public var seconds: Double
    public var loginLatencyMilliseconds: LatencySummary
    public var serverCPUSeconds: Double?
    public var serverRSSBytes: Int?
    /// The server's highest RSS since it started, read at the end of the run.
    public var serverPeakRSSBytes: Int?

    public var line: String {
        String(format: "%@ login storm: %d clients with %d messages of history in %.2f s, login p50 %.1f p99 %.1f max %.1f ms",
               server, clients, historyMessages, seconds, loginLatencyMilliseconds.p50, loginLatencyMilliseconds.p99, loginLatencyMilliseconds.max)
            + (serverCPUSeconds.map { String(format: ", server CPU %.2f s", $0) } ?? "")
    }
}

/// The highest rate that held the latency bound.
public struct MaximumRateReport: Sendable, Codable {
    public var server: String
    public var clients: Int
    public var p99LimitMilliseconds: Double
    public var best: RunReport?
    public var probes: [RunReport]

    public var line: String {
        guard let best else { return "\(server): no rate held p99 under \(p99LimitMilliseconds) ms" }
        return String(format: "%@ highest sustainable: %.0f deliveries/s (%.0f msg/s in) with p99 %.2f ms ≤ %.0f ms",
                      server, best.deliveriesPerSecond, best.offeredMessagesPerSecond, best.latencyMilliseconds.p99, p99LimitMilliseconds)
    }
}
