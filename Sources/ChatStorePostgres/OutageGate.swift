import ChatStore
import NIOConcurrencyHelpers
import PostgresNIO

/// Fails the store's calls at once while the database is known to be unreachable, instead of
/// letting each wait out its whole time limit.
///
/// postgres-nio's pool waits for a connection as long as it is asked to, so during an outage
/// every call would take the full limit (seconds) before failing, one after the other on the
/// commit pipeline's writer: a user's message would wait that long for its ERROR. Once a call
/// fails for want of the database, later ones fail at once, except one probe a second (with a
/// short limit of its own); the first that succeeds ends the outage.
final class OutageGate: Sendable {
    /// The database could not be reached lately; the call was not tried.
    struct Unreachable: Error, CustomStringConvertible {
        var problem: String
        var description: String { "the database is unreachable (\(problem)); trying again every second" }
    }

    private struct State {
        var problem: String?
        var nextProbe = ContinuousClock.now
        var probing = false
    }

    private enum Admission { case normal, probe, refused(String) }

    private let state = NIOLockedValueBox(State())
    /// How often a call is let through to see whether the database is back.
    let probeInterval: Duration
    /// The time limit of such a call.
    let probeTimeout: Duration

    init(probeInterval: Duration = .seconds(1), probeTimeout: Duration = .seconds(2)) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout
    }

    /// Whether the database is taken to be unreachable now.
    var isDown: Bool {
        state.withLockedValue { $0.problem != nil }
    }

    /// Runs `work` through ``BlockingBridge`` within `timeout`, or fails at once during an outage.
    func run<Value: Sendable>(timeout: Duration, _ work: @escaping @Sendable () async throws -> Value) throws -> Value {
        let admission = state.withLockedValue { state -> Admission in
            guard let problem = state.problem else { return .normal }
            guard !state.probing, ContinuousClock.now >= state.nextProbe else { return .refused(problem) }
            state.probing = true
            return .probe
        }
        let limit: Duration
        switch admission {
        case .refused(let problem): throw Unreachable(problem: problem)
        case .probe: limit = min(timeout, probeTimeout)
        case .normal: limit = timeout
        }
        do {
            let value = try BlockingBridge.run(timeout: limit, work)
            state.withLockedValue { state in
                state.problem = nil
                state.probing = false
            }
            return value
        } catch {
            let unreachable = Self.meansUnreachable(error)
            state.withLockedValue { state in
                if case .probe = admission { state.probing = false }
                if unreachable {
                    state.problem = "\(error)"
                    state.nextProbe = ContinuousClock.now + probeInterval
                } else if case .probe = admission {
                    // The database answered (with an error of the query's own): it is back.
                    state.problem = nil
                }
            }
            throw error
        }
    }

    /// Whether `error` says the database could not be reached (rather than refusing a query).
    static func meansUnreachable(_ error: any Error) -> Bool {
        switch error {
        case is BlockingBridge.TimedOut:
            return true
        case let problem as DatabaseProblem:
            return problem.isConnectionFailure
        default:
            return false
        }
    }
}
