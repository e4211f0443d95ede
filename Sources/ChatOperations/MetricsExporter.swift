public import ChatServer
public import CoreMetrics
import NIOCore
import Prometheus

/// The server's metrics in Prometheus' text format: what it counted as it worked (through the
/// factory it was configured with) and, read at each scrape, what is a state (connections,
/// users, queues, uptime, build).
public final class MetricsExporter: Sendable {
    /// Where the server records (pass it as ``ServerConfiguration/metricsFactory``).
    public let factory: any MetricsFactory
    private let registry: PrometheusCollectorRegistry
    private let connectionsOpen: Prometheus.Gauge
    private let usersOnline: Prometheus.Gauge
    private let usersOnlineInCluster: Prometheus.Gauge
    private let queuedBytes: Prometheus.Gauge
    private let queuedBytesHighWater: Prometheus.Gauge
    private let unstoredMessages: Prometheus.Gauge
    private let uptime: Prometheus.Gauge
    private let ready: Prometheus.Gauge

    /// A registry of its own: two servers in one process (tests) never mix their numbers.
    /// - Parameter version: the build's version, exported as `chatterbox_build_info`.
    public init(version: String) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ServerMetricBuckets.durationBuckets
        factory.valueHistogramBuckets = ServerMetricBuckets.valueBuckets
        self.factory = factory
        self.registry = registry
        connectionsOpen = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_connections_open", unitName: "", helpText: "Connections open now (logged in or not)."), labels: [("transport", "tcp")])
        usersOnline = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_users_online", unitName: "", helpText: "Users logged in to this server."))
        usersOnlineInCluster = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_cluster_users_online", unitName: "", helpText: "Users logged in to any server of the cluster (this one's included)."))
        queuedBytes = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_outbound_queued_bytes", unitName: "", helpText: "Bytes waiting for slow readers now."))
        queuedBytesHighWater = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_outbound_queued_bytes_high_water", unitName: "", helpText: "The most bytes waiting for slow readers at once since the start."))
        unstoredMessages = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_store_backlog_messages", unitName: "", helpText: "Messages accepted and not yet stored (the commit pipeline's backlog)."))
        uptime = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_uptime_seconds", unitName: "", helpText: "Seconds since the server started listening."))
        ready = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_ready", unitName: "", helpText: "1 while /ready answers 200."))
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "chatterbox_build_info", unitName: "", helpText: "The running build (always 1)."), labels: [("version", version)]).set(to: 1)
    }

    /// The text of a scrape: the states read now (`readiness` too), then everything.
    public func scrape(_ server: ChatServer, readiness: ServerReadiness) -> [UInt8] {
        let statistics = server.statistics
        connectionsOpen.set(to: Double(statistics.openConnections))
        usersOnline.set(to: Double(statistics.usersOnline))
        usersOnlineInCluster.set(to: Double(statistics.usersOnlineInCluster))
        queuedBytes.set(to: Double(statistics.queuedOutboundBytes))
        queuedBytesHighWater.set(to: Double(statistics.queuedOutboundBytesHighWater))
        unstoredMessages.set(to: Double(statistics.unstoredMessages))
        uptime.set(to: Double(statistics.uptime?.nanoseconds ?? 0) / 1e9)
        ready.set(to: readiness.isReady ? 1 : 0)
        return registry.emitToBuffer()
    }
}
