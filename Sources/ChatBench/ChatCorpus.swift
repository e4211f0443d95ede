public import ChatProtocol

/// Synthetic but realistic chat traffic for measurements: a seeded mix of the lines people
/// type in a team chat. Lengths follow a typical channel: most lines are short, some are a
/// few sentences, a few are pasted logs or code.
public struct ChatCorpus: Sendable {
    private var state: UInt64
    private let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]

    /// The same seed gives the same traffic.
    public init(seed: UInt64 = 42) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    private static let short = [
        "ok", "lol", "+1", "thanks!", "on it", "brb", "yes", "no worries", "👍", "sounds good",
        "morning all", "lunch?", "done", "nice 🎉", "agreed", "ship it", "hmm", "same here", "ack", "ty",
    ]
    private static let medium = [
        "can someone review my PR before the standup?",
        "the build on main is red again, looking into it",
        "deploying 2.4.1 to staging now, expect a minute of downtime",
        "does anyone know why the integration tests time out on the CI runner?",
        "I moved the retro to Thursday at 3pm, same room",
        "heads up: the database migration takes about ten minutes on production",
        "@bob can you check the logs on the second node when you have a moment",
        "new dashboard is live: https://grafana.example.com/d/chat-latency?orgId=1&from=now-6h",
        "reminder that the office is closed on Monday",
        "I think the flaky test is a race between the writer thread and the shutdown",
        "the customer says the export works now, closing the ticket",
        "who broke the coffee machine again ☕",
        "p99 latency went from 12 ms to 48 ms after yesterday's release",
        "let's pair on this after lunch, I'll share my screen",
        "merged, thanks for the quick turnaround",
    ]
    private static let long = [
        "Quick summary of the incident: at 14:02 the primary database ran out of connections because the new batch job opened one per task instead of using the pool. Requests queued, the load balancer marked two nodes unhealthy, and the remaining node took all the traffic. We rolled back the job at 14:19 and latency recovered by 14:23. Action items: cap the pool per job, alert on connection count, and add a load test for the batch path.",
        "I've been reading about how other chat servers handle slow clients. Most of them keep a bounded queue per connection and disconnect when it overflows, which is what we do, but some also drop presence updates first and keep messages, which might be nicer for people on bad mobile connections. Worth discussing at the architecture meeting?",
        "Release notes draft for 2.5: compression of large frames, history search, registered names with passwords, and file transfer. Please add anything I missed and check the wording of the migration section, since the database gets a new full-text index on first start.",
    ]
    private static let pastes = [
        """
        2026-11-25T14:02:11Z ERROR pool: timed out waiting for a connection after 30000 ms (active=100, idle=0, waiting=412)
        2026-11-25T14:02:11Z ERROR http: GET /api/v1/messages?room=general&before=99213 -> 503 in 30012 ms
        2026-11-25T14:02:12Z WARN  lb: node-2 failed health check (timeout), marking unhealthy
        2026-11-25T14:02:12Z ERROR pool: timed out waiting for a connection after 30000 ms (active=100, idle=0, waiting=431)
        2026-11-25T14:02:13Z ERROR http: POST /api/v1/messages -> 503 in 30004 ms
        2026-11-25T14:02:14Z WARN  lb: node-3 failed health check (timeout), marking unhealthy
        2026-11-25T14:02:15Z ERROR pool: timed out waiting for a connection after 30000 ms (active=100, idle=0, waiting=455)
        2026-11-25T14:02:15Z INFO  autoscaler: scaling web from 3 to 6 replicas
        """,
        """
        func handle(_ message: ChatMessage, from user: User) {
            guard UsernameRules.key(message.source) == user.key else {
                sendError("Message not sent: SRC is not your username.")
                return
            }
            let limit = hub.configuration.maximumContentBytes
            guard message.content.utf8.count <= limit else {
                sendError("Message not sent: CONTENT is longer than \\(limit) bytes.")
                return
            }
            if case .rejected(let reason) = hub.submit(message, senderKey: user.key, from: connection) {
                sendError(reason, counted: false)
            }
        }
        """,
    ]

    private mutating func next(_ bound: Int) -> Int {
        // xorshift64*: quick, seeded, good enough to pick lines.
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 0x2545_F491_4F6C_DD1D) >> 33) % bound
    }

    /// The next message: 70 % short lines, 22 % a sentence, 6 % a paragraph, 2 % a paste;
    /// one in ten a direct message.
    public mutating func nextMessage(timestamp: Int64) -> ChatMessage {
        let roll = next(100)
        let content: String
        switch roll {
        case 0..<70: content = Self.short[next(Self.short.count)]
        case 70..<92: content = Self.medium[next(Self.medium.count)]
        case 92..<98: content = Self.long[next(Self.long.count)]
        default: content = Self.pastes[next(Self.pastes.count)]
        }
        let source = names[next(names.count)]
        let destination = next(10) == 0 ? names[next(names.count)] : ChatMessage.broadcastDestination
        return ChatMessage(source: source, destination: destination, timestamp: timestamp, content: content)
    }
}
