#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How many connections the process's open-file limit (RLIMIT_NOFILE) leaves room for.
///
/// Why: every connection is a descriptor, and so are the database's files, a file being
/// uploaded or fetched, and a refused connection waiting to be told why. With the usual soft
/// limit of 1,024 and `--max-connections` at 50,000, about a thousand connections used every
/// descriptor: `accept4` failed with EMFILE (and NIO retried at once, forever), and so did
/// opening the database and files. So the server raises the soft limit to the hard one at
/// start, and admits only as many connections as leave a reserve free for the rest.
struct DescriptorBudget: Sendable {
    /// The soft limit in force after raising it, and the hard limit.
    var softLimit: Int
    var hardLimit: Int
    /// Descriptors open when the budget was made (the store, the event loops, the pools).
    var openAtStart: Int
    /// Descriptors kept free for everything but admitted connections.
    var reserve: Int

    /// Kept free for the store (SQLite's database, journal and temporary files, a reader per
    /// pool thread) and for files being read or written.
    static let reservedForStoreAndFiles = 64
    /// Kept free for the listening sockets and the odd descriptor opened after start.
    static let reservedForListeners = 8

    /// Connections that fit under the soft limit beside the reserve (at least one).
    var connections: Int { max(1, softLimit - openAtStart - reserve) }

    /// Raises the soft open-file limit to the hard limit (where the system allows it) and
    /// measures what is open now; nil where the limit cannot be read.
    static func prepare() -> DescriptorBudget? {
        guard let (soft, hard) = raiseSoftLimit() else { return nil }
        return DescriptorBudget(
            softLimit: soft, hardLimit: hard, openAtStart: openDescriptorCount() ?? 0,
            reserve: reservedForStoreAndFiles + reservedForListeners + ConnectionLimiter.maximumPoliteRefusals)
    }

    /// The connection limit to enforce: `configured` (0: unlimited) lowered to what fits, and
    /// the sentence to log when it was lowered.
    func clamp(_ configured: Int) -> (limit: Int, lowered: String?) {
        let fits = connections
        guard configured == 0 || configured > fits else { return (configured, nil) }
        let asked = configured == 0 ? "unlimited" : String(configured)
        let sentence = "Connections limited to \(fits) (--max-connections: \(asked)): the open-file limit is \(softLimit) (hard limit \(hardLimit)), \(openAtStart) descriptors are in use and \(reserve) are kept for the store, files and refused connections. Raise the hard limit (ulimit -Hn, systemd's LimitNOFILE=) to serve more."
        return (fits, sentence)
    }

    /// Sets the soft RLIMIT_NOFILE to the hard limit; the limits now in force.
    static func raiseSoftLimit() -> (soft: Int, hard: Int)? {
        var limits = rlimit()
        guard getrlimit(resourceKind, &limits) == 0 else { return nil }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            #if canImport(Darwin)
            // Darwin refuses more than OPEN_MAX for an unlimited hard limit.
            if raised.rlim_cur == RLIM_INFINITY { raised.rlim_cur = rlim_t(OPEN_MAX) }
            #endif
            if setrlimit(resourceKind, &raised) == 0 { limits = raised }
        }
        return (Self.clampToInt(limits.rlim_cur), Self.clampToInt(limits.rlim_max))
    }

    /// Descriptors this process has open now.
    static func openDescriptorCount() -> Int? {
        #if os(Linux)
        let directory = "/proc/self/fd"
        #else
        let directory = "/dev/fd"
        #endif
        // Listing the directory opens one descriptor itself.
        return (try? FileManager.default.contentsOfDirectory(atPath: directory)).map { max(0, $0.count - 1) }
    }

    private static func clampToInt(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }

    #if canImport(Glibc)
    private static let resourceKind = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceKind = RLIMIT_NOFILE
    #endif
}
