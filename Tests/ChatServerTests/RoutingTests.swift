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

    @Test func acceptingSpellsNamesAsRegisteredAndRefusesAcrossABlock() {
        let fixture = RoutingFixture(users: 10, eventLoops: [EmbeddedEventLoop()], blockersOfFirstUser: 1)
        let broadcast = fixture.accept(message("x", to: "all"), senderKey: "user1")
        #expect(broadcast?.destination == ChatMessage.broadcastDestination)
        #expect(broadcast?.source == "user1")
        #expect(fixture.accept(message("user1", to: "USER5"), senderKey: "user1")?.destination == "user5")
        #expect(fixture.accept(message("user1", to: "nobody"), senderKey: "user1") == nil)
        #expect(fixture.accept(message("user0", to: "user9"), senderKey: "user0") == nil)
        #expect(fixture.accept(message("user9", to: "user0"), senderKey: "user9") == nil)
        #expect(fixture.accept(message("ghost", to: "all"), senderKey: "ghost") == nil)
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
