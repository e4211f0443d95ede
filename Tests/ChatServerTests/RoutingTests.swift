import ChatProtocol
@_spi(Benchmarks) @testable import ChatServer
import NIOEmbedded
import Testing

/// The hub's routing decisions over its state alone (`Hub.State.accept`, `forEachBroadcastGroup`,
/// `directRoute`), through the fixture the routing micro-benchmarks use: the end-to-end
/// behaviour is in MessagingTests and BlockingTests; these pin the counts the benchmarks check.
@Suite struct RoutingTests {
    private func message(_ source: String, to destination: String) -> ChatMessage {
        ChatMessage(source: source, destination: destination, timestamp: 1_700_000_000, content: "hi")
    }

    @Test func aBroadcastReachesEveryoneOnEveryLoopButThoseWhoBlockTheSender() {
        let loops = [EmbeddedEventLoop(), EmbeddedEventLoop(), EmbeddedEventLoop()]
        let open = RoutingFixture(users: 10, eventLoops: loops)
        #expect(open.routeBroadcast(from: "user3") == 10)
        let blocked = RoutingFixture(users: 10, eventLoops: loops, blockersOfFirstUser: 4)
        #expect(blocked.routeBroadcast(from: "user0") == 6)
        // A block stops messages both ways: user9 blocks user0, so user9's broadcasts skip user0.
        #expect(blocked.routeBroadcast(from: "user9") == 9)
        #expect(blocked.routeBroadcast(from: "user1") == 10)
    }

    @Test func aBlockTakesItsUsersOutOfTheirLoopsListsOnly() {
        // user0…user8 over three loops in turn: loop 0 holds user0, user3, user6; loop 1 user1,
        // user4, user7; loop 2 user2, user5, user8. The last four (user5…user8) block user0.
        let fixture = RoutingFixture(users: 9, eventLoops: [EmbeddedEventLoop(), EmbeddedEventLoop(), EmbeddedEventLoop()], blockersOfFirstUser: 4)
        #expect(fixture.broadcastRecipientNames(from: "user0") == [0: ["user0", "user3"], 1: ["user1", "user4"], 2: ["user2"]])
        #expect(fixture.broadcastRecipientNames(from: "user8") == [0: ["user3", "user6"], 1: ["user1", "user4", "user7"], 2: ["user2", "user5", "user8"]])
        // Everyone on a loop excluded (loop 2 holds only user2): nothing is queued there.
        let lonely = RoutingFixture(users: 5, eventLoops: [EmbeddedEventLoop(), EmbeddedEventLoop(), EmbeddedEventLoop()], blockersOfFirstUser: 3)
        #expect(lonely.broadcastRecipientNames(from: "user0") == [0: ["user0"], 1: ["user1"]])
    }

    @Test func acceptingSpellsNamesAsRegisteredAndRefusesAcrossABlock() {
        let fixture = RoutingFixture(users: 10, eventLoops: [EmbeddedEventLoop()], blockersOfFirstUser: 1)
        #expect(fixture.accept(message("x", to: "all"), senderKey: "user1") == .accepted(message("user1", to: ChatMessage.broadcastDestination)))
        #expect(fixture.accept(message("user1", to: "USER5"), senderKey: "user1") == .accepted(message("user1", to: "user5")))
        #expect(fixture.accept(message("user1", to: "nobody"), senderKey: "user1") == .refused("Message not sent: there is no user named nobody."))
        #expect(fixture.accept(message("user0", to: "user9"), senderKey: "user0") == .refused("Message not sent: user9 is not accepting messages from you."))
        #expect(fixture.accept(message("user9", to: "user0"), senderKey: "user9") == .refused("Message not sent: you have blocked user0. Use /UnBlock user0 first."))
        #expect(fixture.accept(message("ghost", to: "all"), senderKey: "ghost") == .refused("You are not logged in."))
    }

    @Test func aDirectMessageGoesToTheRecipientAndBackToTheSenderOnce() {
        let fixture = RoutingFixture(users: 10, eventLoops: [EmbeddedEventLoop(), EmbeddedEventLoop()], blockersOfFirstUser: 1)
        #expect(fixture.routeDirect(to: "user5", from: "user1") == 2)
        #expect(fixture.routeDirect(to: "user1", from: "user1") == 1)
        // Blocked after it was accepted: only the sender's copy.
        #expect(fixture.routeDirect(to: "user9", from: "user0") == 1)
        #expect(fixture.routeDirect(to: "user0", from: "user9") == 1)
        // Offline (unknown here): the sender's copy; the hub adds the note.
        #expect(fixture.routeDirect(to: "user42", from: "user1") == 1)
    }
}

extension RoutingFixture {
    /// The names of a broadcast's recipients from `senderKey`, per loop (the benchmarks count
    /// them with ``routeBroadcast(from:)``).
    func broadcastRecipientNames(from senderKey: String) -> [Int: [String]] {
        state.withLockedValue { state in
            var names: [ObjectIdentifier: String] = [:]
            for (key, connection) in state.presence.byKey { names[ObjectIdentifier(connection)] = state.users[key]?.name }
            var groups: [Int: [String]] = [:]
            state.forEachBroadcastGroup(from: senderKey) { loop, recipients in
                groups[loop] = recipients.map { names[ObjectIdentifier($0)] ?? "?" }
            }
            return groups
        }
    }
}
