// Routing: what the hub decides for each message, measured on its own — DEST resolved, blocks
// checked (Hub.submit), then the recipients chosen per event loop (after the commit) — with
// the hub's own code (`Hub.State.accept`, `forEachBroadcastGroup`, `directRoute`) through the
// ChatServer target's "Benchmarks" SPI (`RoutingFixture`). No socket, session or store: those
// are in the FanOut suite and in `chatterbox bench`.
import Benchmark
import BenchmarkFixtures
import ChatProtocol
@_spi(Benchmarks) import ChatServer
import NIOCore
import NIOEmbedded

let metrics: [BenchmarkMetric] = [
    .wallClock, .cpuTotal, .throughput, .mallocCountTotal, .mallocFreeDelta, .memoryLeakedBytes,
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, timeUnits: .nanoseconds, maxDuration: .seconds(2))

    Benchmark("Harness overhead (empty sample)", configuration: scaled(.one)) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(0) }
    }

    // Scenario a (100 users, the server pinned to one core: one loop) and b (1,000 users), and
    // b's users spread over two loops as on this machine unpinned.
    for (users, loops) in [(100, 1), (1_000, 1), (1_000, 2)] {
        let fixture = RoutingFixture(users: users, eventLoops: (0..<loops).map { _ in EmbeddedEventLoop() })
        let message = broadcast(from: fixture.names[1])
        let senderKey = UsernameRules.key(fixture.names[1])
        check(fixture.accept(message, senderKey: senderKey) == .accepted(message))
        check(fixture.routeBroadcast(from: senderKey) == users)

        Benchmark("Accept and route 1 broadcast to \(users) users on \(loops) loop(s)", configuration: scaled(.kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.accept(message, senderKey: senderKey))
                blackHole(fixture.routeBroadcast(from: senderKey))
            }
        }
    }

    // A sender blocked by some of the others: its broadcasts go to a filtered copy of each
    // loop's list instead of the list itself.
    for blockers in [1, 10] {
        let users = 100
        let fixture = RoutingFixture(users: users, eventLoops: [EmbeddedEventLoop()], blockersOfFirstUser: blockers)
        let message = broadcast(from: fixture.names[0])
        let senderKey = UsernameRules.key(fixture.names[0])
        check(fixture.accept(message, senderKey: senderKey) == .accepted(message))
        check(fixture.routeBroadcast(from: senderKey) == users - blockers)

        Benchmark("Accept and route 1 broadcast to \(users) users, \(blockers) of them blocking the sender", configuration: scaled(.kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.accept(message, senderKey: senderKey))
                blackHole(fixture.routeBroadcast(from: senderKey))
            }
        }
    }

    do {
        let fixture = RoutingFixture(users: 1_000, eventLoops: [EmbeddedEventLoop()], blockersOfFirstUser: 1)
        let senderKey = UsernameRules.key(fixture.names[1])
        // DEST is matched case-insensitively.
        let direct = message(from: fixture.names[1], to: fixture.names[500].uppercased())
        let recipientKey = UsernameRules.key(direct.destination)
        check(fixture.accept(direct, senderKey: senderKey) == .accepted(message(from: fixture.names[1], to: fixture.names[500])))
        check(fixture.routeDirect(to: recipientKey, from: senderKey) == 2)

        Benchmark("Accept and route 1 direct message among 1000 users", configuration: scaled(.kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.accept(direct, senderKey: senderKey))
                blackHole(fixture.routeDirect(to: recipientKey, from: senderKey))
            }
        }

        // Refused at the hub: user999 blocks user0.
        let refused = message(from: fixture.names[0], to: fixture.names[999])
        let refusedSenderKey = UsernameRules.key(fixture.names[0])
        check(fixture.accept(refused, senderKey: refusedSenderKey) == .refused("Message not sent: user999 is not accepting messages from you."))

        Benchmark("Refuse 1 direct message to a user who blocks the sender", configuration: scaled(.kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.accept(refused, senderKey: refusedSenderKey))
            }
        }
    }
}

// MARK: - Helpers

/// The load generator's broadcast (BenchmarkFixtures), sent by `name`.
func broadcast(from name: String) -> ChatMessage {
    message(from: name, to: ChatMessage.broadcastDestination)
}

/// The load generator's message, from `name` to `destination`.
func message(from name: String, to destination: String) -> ChatMessage {
    var message = Fixtures.broadcast()
    message.source = name
    message.destination = destination
    return message
}
