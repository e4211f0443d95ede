public import ChatProtocol
public import NIOCore
public import ChatTLS
public import CoreMetrics

/// Everything the server's behaviour can be tuned by. Defaults are production values.
public struct ServerConfiguration: Sendable {
    /// Host to bind: "" for every local address (IPv4 and IPv6), otherwise what getaddrinfo
    /// returns for it.
    public var host: String
    /// TCP port; 0 picks a free one (tests).
    public var port: Int
    /// TLS settings; `nil` serves plain TCP (`--plaintext`).
    public var tls: ServerTLSContext?
    /// Largest frame accepted from a client, in bytes of JSON.
    public var maximumFrameLength: Int
    /// Most recent messages replayed at login.
    public var historyLimit: Int
    /// Longest CONTENT accepted, in UTF-8 bytes.
    public var maximumContentBytes: Int
    /// Bytes that may wait to be sent to one client before it is disconnected as too slow,
    /// while the queues together use less than half of their share of ``outboundQueueBudget``. Counted
    /// at what the buffers holding them cost (up to twice the bytes: NIO rounds each buffer up
    /// to a power of two).
    public var outboundQueueLimit: Int
    /// Bytes that may wait to be sent to all clients together, at most half of it (less when
    /// ``outboundBudgetCountsProcessMemory`` finds the rest of the process larger). As the
    /// queues fill that share, the cap of each shrinks (from ``outboundQueueLimit`` at half of
    /// it to 64 KiB at all of it), so the longest queues are cut first, leaving the rest for
    /// the server itself. Defaults to an eighth of the memory.
    public var outboundQueueBudget: Int = OutboundBudget.defaultLimit
    /// Whether ``outboundQueueBudget`` bounds the whole process: its resident memory is
    /// measured four times a second, what it holds besides the queues shrinks the queues'
    /// share, and free memory is given back to the system whenever the process passes three
    /// quarters of the budget. Off by default, for a server sharing its process with other
    /// work (tests run many servers in one); the `chatterbox server` command turns it on.
    public var outboundBudgetCountsProcessMemory = false
    /// Most bytes the kernel holds unsent for one connection (TCP_NOTSENT_LOWAT, Linux); 0
    /// leaves the kernel's default. Bytes a client has not yet received are in flight, not
    /// unsent, so a client that reads is not slowed; one that stops reading fills this and its
    /// receive window and no more, where the kernel otherwise takes about 4 MB: a thousand such
    /// clients cost the server 4 GB of encryption before the outbound budget saw any of it
    /// (seconds of a saturated loop), and now a tenth of that.
    public var unsentBytesLimit = 128 * 1024
    /// Frames a client may send while its login is still completing.
    public var maximumFramesDuringLogin: Int
    /// Messages accepted and waiting for the store, all clients together, beyond which new ones
    /// are refused ("busy") until the store catches up: what a slow disk or an unreachable
    /// database can pile up in memory is bounded.
    public var maximumUnstoredMessages = 100_000
    /// The name the server answers commands under. Reserved as a username.
    public var serverName: String
    /// Event loop threads; defaults to one per core.
    public var eventLoopThreads: Int
    /// Protections against slow, flooding and greedy peers.
    public var limits: Limits
    /// Least time between two flushes of deliveries on one event loop (a busy loop waits as
    /// long as its previous flush took). An idle loop flushes at once; a busy one gathers more
    /// frames per syscall.
    public var flushPacing: TimeAmount = .microseconds(250)
    /// How long the first message after a quiet spell waits for more to share its commit and
    /// its writes. Zero commits and sends it at once; a few hundred microseconds lets the
    /// messages of a burst (several senders at the same moment) be stored in one transaction
    /// and reach each recipient in one write instead of several: at 50,000 deliveries/s,
    /// 250 µs took a quarter off the CPU per delivery and lowered the latency too
    /// (docs/PERFORMANCE-HISTORY.md).
    public var gatherWindow: TimeAmount = .microseconds(250)
    /// Set when this server is one of several sharing its store (which must be a ``SharedLog``):
    /// they form one chat.
    public var cluster: ClusterSettings?
    /// Sends each write at once (`TCP_NODELAY`). Off, the kernel holds small writes back
    /// while earlier ones are unacknowledged (Nagle): fewer, fuller segments for more latency.
    /// Some IRC servers run that way; the switch exists to measure like against like.
    public var sendsImmediately = true
    /// How long an unregistered name stays reserved for the address its user last used, after
    /// they were last seen: logins under it from any other address are refused meanwhile, and
    /// once it is over another address gets the name without its past (direct messages,
    /// files). Kept in the store. Zero switches it off.
    public var nameReservation: TimeAmount = .hours(24 * 30)
    /// Users never registered, unseen for this long (and not before their reservation ends),
    /// with nothing stored for them (no direct message waiting, no file, no block either way),
    /// are forgotten: their row goes, so throwaway names do not pile up. Zero: never.
    public var forgetUsersAfter: TimeAmount = .hours(24 * 30)
    /// Where the server records its metrics (swift-metrics); `nil` records nothing. Each server
    /// takes its own factory, so that several in one process (tests) do not mix their counts.
    public var metricsFactory: (any MetricsFactory)?
    /// The clock of the timed rules (name reservations, login attempts); tests move it by hand.
    public var clock: ServerClock = .system
    /// PBKDF2-HMAC-SHA256 rounds for new account password hashes (existing hashes keep the
    /// rounds they were made with). Tests lower it; production keeps OWASP's 600,000.
    public var passwordHashRounds = 600_000
    /// Where uploaded files are kept (feature `files`); `nil` switches file transfer off.
    public var fileDirectory: String?
    /// Whether ``fileDirectory`` is shared by every server of a cluster (network storage): the
    /// only way a cluster offers files, since any server may be asked for any file.
    public var fileDirectoryIsShared = false
    /// Largest file accepted, and the most bytes of files one user may have stored.
    public var maximumFileBytes: Int64 = 64 << 20
    public var fileQuotaPerUser: Int64 = 512 << 20
    /// The most bytes of files stored in all, every user's together (uploads under way
    /// included): names are free, so the per-user quota alone does not bound the disk.
    public var fileQuotaTotal: Int64 = 8 << 30
    /// Uploads are refused while the disk that holds the files would be left with less free
    /// space than this, so that the database (chat) always has room. Zero: no floor.
    public var minimumFreeDiskBytes: Int64 = 1 << 30
    /// An upload that receives no chunk for this long is abandoned and its partial file
    /// removed.
    public var uploadIdleTimeout: TimeAmount = .minutes(10)
    /// Stored files are deleted this long after they were uploaded. Zero keeps them forever.
    public var fileLifetime: TimeAmount = .hours(24 * 30)
    /// How often the server looks for abandoned uploads, expired files and forgotten users.
    public var housekeepingInterval: TimeAmount = .minutes(1)
    /// The operators' names: registered users who, logged in with their password, may kick,
    /// ban and announce (``LiveSettings/operators``). Changeable live.
    public var operators: [String] = []
    /// The message of the day, sent as INFO at every login; `nil`: none. Changeable live.
    public var motd: String?
    /// Where the administration socket listens (`chatterbox admin`); `nil`: nowhere.
    /// Created with mode 0600, and only the server's own user (or root) is served.
    public var adminSocketPath: String?
    /// Password attempts allowed for one name from one address.
    public var loginAttemptsPerNameAndAddress = AttemptLimit(burst: 5, interval: .seconds(12))
    /// Password attempts allowed for one name from all the addresses that have not logged in
    /// with its password before (guessing spread over many addresses). Addresses that have are
    /// exempt, so that nobody can lock an owner out by guessing from elsewhere.
    public var loginAttemptsPerName = AttemptLimit(burst: 5, interval: .seconds(12))
    /// Password attempts allowed from one address, for any names.
    public var loginAttemptsPerAddress = AttemptLimit(burst: 20, interval: .seconds(3))

    /// Attempts allowed: `burst` at once, then one more every `interval`.
    public struct AttemptLimit: Sendable {
        public var burst: Int
        public var interval: TimeAmount

        public init(burst: Int, interval: TimeAmount) {
            self.burst = burst
            self.interval = interval
        }
    }

    /// Protections against slow, flooding and greedy peers. A limit of 0 means unlimited.
    public struct Limits: Sendable {
        /// Time for a TLS handshake to complete after the connection is accepted.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        /// Time for a connection to log in after its TLS handshake completes (after it is accepted, in plaintext).
        public var loginTimeout: TimeAmount = .seconds(60)
        /// Open connections from one IP address (one network prefix, see below).
        public var connectionsPerAddress = 20
        /// Networks whose connections `connectionsPerAddress` does not count (the total
        /// still does): loopback by default, for clients on the server's own machine.
        public var connectionLimitExemptions: [IPNetwork] = IPNetwork.loopback
        /// The prefix lengths that make "one address" for `connectionsPerAddress`: IPv4
        /// addresses one by one (/32), IPv6 by /64, the network one subscriber usually holds.
        public var ipv4ConnectionPrefixLength = 32
        public var ipv6ConnectionPrefixLength = 64
        /// Open connections in all.
        public var connections = 50_000
        /// Messages one user may send per second, sustained, and in a burst.
        public var messagesPerSecond = 10.0
        public var messageBurst = 20
        /// Frames read from one connection per second, and in a burst; beyond, reading pauses.
        public var framesPerSecond = 100.0
        public var frameBurst = 200
        /// Invalid frames one connection may send per second, and in a burst; beyond, it is
        /// disconnected.
        public var errorsPerSecond = 1.0
        public var errorBurst = 30
        /// Frame bytes read from one connection per second, sustained and in a burst, counted
        /// after decompression (a compressed frame costs what it inflates to); beyond, reading
        /// pauses like the frame rate's.
        public var readBytesPerSecond = 8 << 20
        public var readByteBurst = 16 << 20
        /// Time a frame may take to arrive once its first bytes have (the time reading is
        /// paused by the server does not count); beyond, `ERROR` and close.
        public var frameTimeout: TimeAmount = .seconds(30)
        /// Expensive requests (searches, history pages, file listings) one user may have
        /// waiting or running at once; more are answered "busy, try again" (0: unlimited).
        public var requestsInFlight = 4
        /// Request-thread time one user's expensive requests may take, accrued per second and
        /// held at most; each request is charged what it took. Past it: "busy, try again in N s".
        public var requestTimePerSecond: Duration = .milliseconds(250)
        public var requestTimeBurst: Duration = .seconds(2)
        /// Expensive requests and file I/O waiting or running on the request threads, for all
        /// users together; more are answered "busy" (0: unlimited). Logins never wait here.
        public var requestsQueued = 256
        /// The longest a search or history page may run in the store before it is stopped.
        public var queryTimeLimit: Duration = .seconds(1)
        /// Fewest letters or digits before the `*` of a prefix search word (`w*` alone made
        /// the store merge the entries of every word starting with w).
        public var searchPrefixMinimum = 3

        public init() {}

        /// No limits at all except the timeouts: for benchmarks that drive many connections
        /// from one address at full speed.
        public static var unlimited: Limits {
            var limits = Limits()
            limits.connectionsPerAddress = 0
            limits.connections = 0
            limits.messagesPerSecond = 0
            limits.framesPerSecond = 0
            limits.errorsPerSecond = 0
            limits.requestsInFlight = 0
            limits.requestsQueued = 0
            limits.readBytesPerSecond = 0
            return limits
        }
    }

    public init(
        host: String = "",
        port: Int = 9000,
        tls: ServerTLSContext? = nil,
        maximumFrameLength: Int = FrameDecoder.defaultMaximumFrameLength,
        historyLimit: Int = 1000,
        maximumContentBytes: Int = 64 * 1024,
        outboundQueueLimit: Int = 8 * 1024 * 1024,
        maximumFramesDuringLogin: Int = 256,
        serverName: String = "Chatterbox",
        eventLoopThreads: Int = ServerConfiguration.usableCores,
        limits: Limits = Limits()
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.maximumFrameLength = maximumFrameLength
        self.historyLimit = historyLimit
        self.maximumContentBytes = maximumContentBytes
        self.outboundQueueLimit = outboundQueueLimit
        self.maximumFramesDuringLogin = maximumFramesDuringLogin
        self.serverName = serverName
        self.eventLoopThreads = eventLoopThreads
        self.limits = limits
    }

    var usernameRules: UsernameRules { UsernameRules(serverName: serverName) }

    /// Cores this process may run on: the machine's (or cgroup's) count, narrowed by CPU
    /// affinity, so that a server pinned with `taskset -c 0` runs one event loop, not two
    /// competing for the same core.
    public static var usableCores: Int {
        var count = System.coreCount
        if let allowed = CPUAffinity.allowedCPUCount() { count = min(count, allowed) }
        return max(1, count)
    }

    /// The number of CPUs in a kernel CPU list such as "0-3,6" (exposed for tests).
    public static func cpuCount(inList list: String) -> Int? {
        CPUAffinity.count(inList: Substring(list))
    }
}

/// How a server takes part in a cluster (several servers sharing a PostgreSQL store).
public struct ClusterSettings: Sendable {
    /// This server's name among the others (`--node`, default the host name).
    public var node: String
    /// How long the others wait, after this server stops renewing its lease (it died), before
    /// they announce its users as gone.
    public var lease: Duration
    /// How often the server reads the log when no notification came (a safety net: a lost
    /// notification delays, never loses).
    public var pollInterval: Duration = .seconds(2)

    public init(node: String, lease: Duration = .seconds(10)) {
        self.node = node
        self.lease = lease
    }
}
