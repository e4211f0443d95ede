import ChatStore
import Foundation
import NIOConcurrencyHelpers
public import NIOCore

/// What operators' probes and metrics read of a running server: readiness and the numbers that
/// are states rather than events (the events are counted in ``ServerMetrics``).
extension ChatServer {
    /// The server's state now, read without waiting for anything.
    public var statistics: ServerStatistics {
        let online = hub.state.withLockedValue { (local: $0.presence.byKey.count, all: $0.presence.count) }
        return ServerStatistics(
            openConnections: connectionLimiter.openConnections,
            usersOnline: online.local,
            usersOnlineInCluster: online.all,
            queuedOutboundBytes: hub.outboundBudget.queuedBytes,
            queuedOutboundBytesHighWater: hub.outboundBudget.queuedBytesHighWater,
            unstoredMessages: hub.pipeline.backlog,
            uptime: startedAt.withLockedValue { $0.map { .now() - $0 } }
        )
    }

    /// Whether the server can serve now: it listens and admits logins, its store answers
    /// within `timeout`, and the store is not so far behind that messages are refused.
    ///
    /// The store is asked at most once a second whatever the number of probes (the answer is
    /// shared), on a thread that may wait for it, never on the caller's.
    public func readiness(timeout: Duration = .seconds(2)) async -> ServerReadiness {
        var problems: [String] = []
        let listening = startedAt.withLockedValue { $0 != nil }
        if !listening { problems.append("not listening (starting or stopping)") }
        if listening, !hub.state.withLockedValue({ $0.accepting }) { problems.append("shutting down") }
        if hub.pipeline.backlog >= configuration.maximumUnstoredMessages {
            problems.append("the store is behind: \(hub.pipeline.backlog) messages wait to be stored")
        }
        if listening, let storeProblem = await storeCheck.problem(of: store, timeout: timeout) {
            problems.append("store unreachable: \(storeProblem)")
        }
        return ServerReadiness(problems: problems)
    }
}

/// A running server's state at one moment (``ChatServer/statistics``).
public struct ServerStatistics: Sendable, Equatable {
    /// TCP connections open (logged in or not).
    public var openConnections: Int
    /// Users logged in to this server.
    public var usersOnline: Int
    /// Users logged in to any server of its cluster (this one's included).
    public var usersOnlineInCluster: Int
    /// Bytes waiting for slow readers now, and at most since the start.
    public var queuedOutboundBytes: Int
    public var queuedOutboundBytesHighWater: Int
    /// Messages accepted and not yet stored.
    public var unstoredMessages: Int
    /// Time since the server started listening; `nil` when it does not.
    public var uptime: TimeAmount?
}

/// Whether a server can serve (``ChatServer/readiness(timeout:)``), and if not, why.
public struct ServerReadiness: Sendable, Equatable {
    /// Why the server cannot serve; empty when it can.
    public var problems: [String]
    public var isReady: Bool { problems.isEmpty }
}

/// The store's reachability, checked at most once a second and by one probe at a time.
final class StoreCheck: Sendable {
    private struct State {
        var checkedAt: NIODeadline?
        var problem: String?
        var waiters: [CheckedContinuation<String?, Never>]?
    }

    private let state = NIOLockedValueBox(State())
    private static let reuseFor: TimeAmount = .seconds(1)

    /// Why `store` did not answer a trivial read within `timeout`; `nil` when it did.
    func problem(of store: any ChatStore, timeout: Duration) async -> String? {
        enum Step { case reuse(String?), wait, check }
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let step: Step = state.withLockedValue { state in
                if let checkedAt = state.checkedAt, NIODeadline.now() - checkedAt < Self.reuseFor, state.waiters == nil {
                    return .reuse(state.problem)
                }
                if state.waiters != nil {
                    state.waiters!.append(continuation)
                    return .wait
                }
                state.waiters = [continuation]
                return .check
            }
            switch step {
            case .reuse(let problem): continuation.resume(returning: problem)
            case .wait: break
            case .check:
                // A thread of its own (one check at a time): it blocks until the store answers
                // or the timeout, and must not take one of the shared pools' few threads, which
                // opening and closing stores wait on.
                Thread.detachNewThread {
                    var problem: String?
                    do { try store.checkReachable(within: timeout) } catch { problem = "\(error)" }
                    let waiters = self.state.withLockedValue { state in
                        state.checkedAt = .now()
                        state.problem = problem
                        defer { state.waiters = nil }
                        return state.waiters ?? []
                    }
                    for waiter in waiters { waiter.resume(returning: problem) }
                }
            }
        }
    }
}
