import CoreMetrics
import NIOCore

/// What the server counts as it works, recorded through swift-metrics into the factory it was
/// configured with (``ServerConfiguration/metricsFactory``; none: nothing is recorded).
///
/// Every metric is made once, here, for each of its label values: counting on the hot path is
/// one atomic add (Prometheus), never a lookup by label. What is a state rather than an event
/// (connections open, users online, queued bytes) is read when metrics are collected, from
/// ``ChatServer/statistics``, not counted.
final class ServerMetrics: Sendable {
    /// Why a login was refused (the `reason` label of `chatterbox_logins_refused_total`).
    enum LoginRefusal: String, CaseIterable, Sendable {
        /// The name: invalid, in use, reserved for another address, a lookalike of another.
        case name
        /// A registered name logged in without a password.
        case passwordRequired = "password_required"
        case wrongPassword = "wrong_password"
        case tooManyAttempts = "too_many_attempts"
        /// The server could not take the login (shutting down, its database unreachable).
        case unavailable
        /// An operator banned the name or the address.
        case banned
    }

    /// Why a connection was cut or frames dropped (the `limit` label of
    /// `chatterbox_limit_actions_total`).
    enum LimitAction: String, CaseIterable, Sendable {
        /// Messages over the sender's rate, not sent.
        case messageRateDropped = "message_rate_dropped"
        /// Frames sent while a login completes, beyond the allowance: dropped.
        case loginFramesDropped = "login_frames_dropped"
        /// Cut for too many invalid frames.
        case invalidFramesCut = "invalid_frames_cut"
        /// Cut for a frame that was too large, too slow to arrive, or inflates too far.
        case frameCut = "frame_cut"
        /// Cut for not logging in in time.
        case loginTimeoutCut = "login_timeout_cut"
        /// Cut for an outbound queue too long (a client that does not read).
        case slowReaderCut = "slow_reader_cut"
        /// A message refused because the store is behind.
        case storeBacklogRefused = "store_backlog_refused"
    }

    let connectionsAccepted: Counter
    /// Chat sessions over the browser gateway's WebSockets.
    let webSocketConnectionsAccepted: Counter
    /// Refused at accept by the connection limits (per address or in all).
    let connectionsRefused: Counter
    let loginsAccepted: Counter
    private let loginsRefused: [LoginRefusal: Counter]
    let broadcastsIn: Counter
    let directMessagesIn: Counter
    let deliveries: Counter
    let bytesIn: Counter
    let bytesOut: Counter
    /// ERROR frames sent for bad input (drawing on the error budget), and for refusals.
    let errorsInvalidInput: Counter
    let errorsRefusal: Counter
    private let limitActions: [LimitAction: Counter]
    let commitDuration: CoreMetrics.Timer
    let commitOperations: Recorder
    let commitMessages: Recorder
    let storeErrors: Counter
    /// From a message's acceptance (the first item of its batch staged) to its bytes handed to
    /// the recipients' connections.
    let deliveryLatency: CoreMetrics.Timer

    /// Metric names, shared with the operators' listener and the documentation.
    enum Name {
        static let connectionsAccepted = "chatterbox_connections_accepted_total"
        static let loginsAccepted = "chatterbox_logins_total"
        static let loginsRefused = "chatterbox_logins_refused_total"
        static let messagesIn = "chatterbox_messages_received_total"
        static let deliveries = "chatterbox_deliveries_total"
        static let bytesIn = "chatterbox_received_bytes_total"
        static let bytesOut = "chatterbox_sent_bytes_total"
        static let errorsSent = "chatterbox_errors_sent_total"
        static let limitActions = "chatterbox_limit_actions_total"
        static let commitDuration = "chatterbox_store_commit_duration_seconds"
        static let commitOperations = "chatterbox_store_commit_operations"
        static let commitMessages = "chatterbox_store_commit_messages"
        static let storeErrors = "chatterbox_store_errors_total"
        static let deliveryLatency = "chatterbox_delivery_latency_seconds"
    }

    init(factory: any MetricsFactory) {
        connectionsAccepted = Counter(label: Name.connectionsAccepted, dimensions: [("transport", "tcp")], factory: factory)
        webSocketConnectionsAccepted = Counter(label: Name.connectionsAccepted, dimensions: [("transport", "websocket")], factory: factory)
        connectionsRefused = Counter(label: Name.limitActions, dimensions: [("limit", "connection_refused")], factory: factory)
        loginsAccepted = Counter(label: Name.loginsAccepted, factory: factory)
        loginsRefused = Dictionary(uniqueKeysWithValues: LoginRefusal.allCases.map {
            ($0, Counter(label: Name.loginsRefused, dimensions: [("reason", $0.rawValue)], factory: factory))
        })
        broadcastsIn = Counter(label: Name.messagesIn, dimensions: [("kind", "broadcast")], factory: factory)
        directMessagesIn = Counter(label: Name.messagesIn, dimensions: [("kind", "direct")], factory: factory)
        deliveries = Counter(label: Name.deliveries, factory: factory)
        bytesIn = Counter(label: Name.bytesIn, factory: factory)
        bytesOut = Counter(label: Name.bytesOut, factory: factory)
        errorsInvalidInput = Counter(label: Name.errorsSent, dimensions: [("kind", "invalid_input")], factory: factory)
        errorsRefusal = Counter(label: Name.errorsSent, dimensions: [("kind", "refusal")], factory: factory)
        limitActions = Dictionary(uniqueKeysWithValues: LimitAction.allCases.map {
            ($0, Counter(label: Name.limitActions, dimensions: [("limit", $0.rawValue)], factory: factory))
        })
        commitDuration = CoreMetrics.Timer(label: Name.commitDuration, factory: factory)
        commitOperations = Recorder(label: Name.commitOperations, factory: factory)
        commitMessages = Recorder(label: Name.commitMessages, factory: factory)
        storeErrors = Counter(label: Name.storeErrors, factory: factory)
        deliveryLatency = CoreMetrics.Timer(label: Name.deliveryLatency, factory: factory)
    }

    /// Records nothing.
    static let none = ServerMetrics(factory: NOOPMetricsHandler.instance)

    func loginRefused(_ reason: LoginRefusal) {
        loginsRefused[reason]?.increment()
    }

    func limit(_ action: LimitAction, count: Int = 1) {
        limitActions[action]?.increment(by: count)
    }
}

/// The bucket bounds of the server's histograms, for a factory that needs them up front
/// (Prometheus): the library's defaults start at 5 ms, where a commit or a delivery on a
/// healthy server takes a fraction of one.
public enum ServerMetricBuckets {
    /// Bucket bounds of the histograms, for a Prometheus factory (seconds for the timers).
    public static let durationBuckets: [String: [Duration]] = [
        ServerMetrics.Name.commitDuration: [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ],
        ServerMetrics.Name.deliveryLatency: [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ],
    ]
    public static let valueBuckets: [String: [Double]] = [
        ServerMetrics.Name.commitOperations: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
        ServerMetrics.Name.commitMessages: [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    ]
}
