import ChatNetworking
import NIOCore
import NIOSSL

/// Makes one round of connection attempts: looks up each server's name when it comes to it,
/// tries its addresses in the order of a ``FailoverRound``, and returns the first connection
/// made (TCP, and TLS with the certificate checked against that server's own name). Each
/// address that fails is reported as the next one is tried; every step is bounded by the
/// connect timeout, so a dead, hung or unknown server only costs that long.
struct FailoverConnector {
    let servers: [ServerEndpoint]
    let security: ConnectionSecurity
    let connectTimeout: Duration
    let round: FailoverRound
    /// Candidates that already failed in this round (tried by an earlier connector).
    let excluding: Set<ServerCandidate>

    enum Outcome {
        /// `othersLeft`: the round still has candidates to try if this one fails before the
        /// login is through.
        case connected(ChatConnection, ServerCandidate, othersLeft: Bool)
        /// Nothing could be reached: `reason` says why for each address tried, `summary` in
        /// short when there were several (each was said as it was skipped). `isFatal`: every
        /// failure was one no retry can mend.
        case exhausted(reason: String, summary: String?, isFatal: Bool)
    }

    /// A candidate that failed, and the server tried next.
    struct Skip {
        var candidate: ServerCandidate
        var reason: String
        var next: Int
    }

    private struct Failure {
        var candidate: ServerCandidate
        var reason: String
        var isFatal: Bool
        var duringTLS: Bool
        /// How many addresses its server had (its address is named only when several).
        var addressCount: Int
    }

    /// Runs the round. `starting` is called with the first server tried, `skipped` for each
    /// candidate that failed when another is tried after it (the last failure is in the
    /// outcome instead).
    func run(starting: (Int) -> Void, skipped: (Skip) -> Void) async -> Outcome {
        let sslContext: NIOSSLContext?
        do {
            sslContext = try ChatConnection.makeSSLContext(security: security, host: servers.first?.host ?? "")
        } catch {
            return .exhausted(reason: "\(error)", summary: nil, isFatal: true)
        }
        var lookups: [Int: Result<[SocketAddress], any Error>] = [:]
        var failures: [Failure] = []
        var pending: Failure?
        var started = false
        func moveOn(to server: Int) {
            if let failed = pending { skipped(Skip(candidate: failed.candidate, reason: failed.reason, next: server)) }
            pending = nil
            if !started { starting(server) }
            started = true
        }
        let visits = round.visits
        for (visit, index) in visits.enumerated() {
            guard !Task.isCancelled else { return .exhausted(reason: "cancelled", summary: nil, isFatal: false) }
            let server = servers[index]
            let lookup: Result<[SocketAddress], any Error>
            if let known = lookups[index] {
                lookup = known
            } else {
                let unresolved = ServerCandidate(server: index, address: nil)
                // A name that did not resolve earlier in this round is not looked up again.
                guard !excluding.contains(unresolved) else { continue }
                // The server just used is looked up again only for the addresses after the
                // one that failed: the round is not said to start with it.
                if !(visit == 0 && round.after != nil) { moveOn(to: index) }
                do {
                    lookup = .success(try await AddressResolver.connectAddresses(host: server.host, port: server.port, timeout: connectTimeout))
                } catch {
                    lookup = .failure(error)
                    let failure = Failure(candidate: unresolved, reason: "\(error)", isFatal: false, duringTLS: false, addressCount: 0)
                    failures.append(failure)
                    pending = failure
                }
                lookups[index] = lookup
            }
            guard case .success(let addresses) = lookup else { continue }
            let untried = { (list: [SocketAddress]) in list.filter { !excluding.contains(ServerCandidate(server: index, address: $0)) } }
            let toTry = untried(round.addresses(ofVisit: visit, addresses))
            for (position, address) in toTry.enumerated() {
                let candidate = ServerCandidate(server: index, address: address)
                moveOn(to: index)
                do {
                    let connection = try await ChatConnection.connect(
                        to: address, host: server.host, port: server.port, security: security, sslContext: sslContext,
                        connectTimeout: .nanoseconds(connectTimeout.nanoseconds)
                    )
                    let laterInVisit = position + 1 < toTry.count
                    let atTheEnd = round.after != nil && visit == 0 && !untried(round.addresses(ofVisit: visits.count - 1, addresses)).isEmpty
                    return .connected(connection, candidate, othersLeft: servers.count > 1 || laterInVisit || atTheEnd)
                } catch {
                    guard !Task.isCancelled else { return .exhausted(reason: "cancelled", summary: nil, isFatal: false) }
                    let known = error as? ConnectionError
                    let failure = Failure(
                        candidate: candidate,
                        reason: known?.description ?? ConnectionFailureText.explain(error, host: server.host, security: security).text,
                        isFatal: known?.isFatal ?? false, duringTLS: known?.duringTLS ?? false, addressCount: addresses.count
                    )
                    failures.append(failure)
                    pending = failure
                }
            }
        }
        guard !failures.isEmpty else {
            return .exhausted(reason: "no server was left to try in this round", summary: nil, isFatal: false)
        }
        var summary: String?
        if failures.count > 1, let last = failures.last {
            let serverCount = Set(failures.map(\.candidate.server)).count
            let tried = serverCount == 1 ? "\(failures.count) addresses" : "\(serverCount) servers"
            summary = "none of the \(tried) answered (the last: \(describe(last)))"
        }
        return .exhausted(reason: failures.map(describe).joined(separator: "; "), summary: summary, isFatal: failures.allSatisfy(\.isFatal))
    }

    /// "Cannot connect to HOST port PORT: Connection refused", with the address when the
    /// name has several.
    private func describe(_ failure: Failure) -> String {
        let server = servers[failure.candidate.server]
        guard let address = failure.candidate.address else { return failure.reason }
        if failure.duringTLS {
            return "Cannot connect securely to \(server.spoken) (\(ChatConnection.describe(address))): \(failure.reason)"
        }
        let at = failure.addressCount > 1 ? " (\(ChatConnection.describe(address)))" : ""
        return "Cannot connect to \(server.spoken)\(at): \(failure.reason)"
    }
}
