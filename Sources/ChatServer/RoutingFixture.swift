public import ChatProtocol
import ChatStore
public import NIOCore
import NIOConcurrencyHelpers

/// A hub's routing state — users online spread over event loops, blocks between them — and the
/// hub's own routing decisions over it, without sockets, sessions or a store. Public for the
/// micro-benchmarks only (Benchmarks/Micro), which measure what the hub decides per message.
/// It stays in this module, behind the SPI, because it is built on the hub's internal state
/// (`Hub.State`, `Presence`, `ClientConnection`), which the Benchmarks package cannot reach.
///
/// Each call takes the lock as the hub does: once to accept a message, once to route it.
@_spi(Benchmarks) public final class RoutingFixture: Sendable {
    /// Internal, not private: RoutingTests reads the recipients' names from it.
    let state: NIOLockedValueBox<Hub.State>
    /// The online users' names, `user0`, `user1`, …, spread over the loops in turn.
    public let names: [String]

    /// - Parameters:
    ///   - users: users online.
    ///   - eventLoops: the loops they are spread over (nothing is run on them).
    ///   - blockersOfFirstUser: how many of the others (the last ones) block `user0`.
    public init(users: Int, eventLoops: [any EventLoop], blockersOfFirstUser: Int = 0) {
        let outboxes = eventLoops.enumerated().map { Outbox(eventLoop: $1, index: $0, pacing: .zero, gatherWindow: .zero) }
        let names = (0..<users).map { "user\($0)" }
        var presence = Presence(loopCount: outboxes.count)
        var known: [String: KnownUser] = [:]
        for (index, name) in names.enumerated() {
            let key = UsernameRules.key(name)
            known[key] = KnownUser(name: name, deliveredThrough: 0)
            presence.insert(ClientConnection(outbox: outboxes[index % outboxes.count], address: "127.0.0.1"), key: key, name: name)
        }
        var blocks = BlockGraph()
        for name in names.suffix(min(blockersOfFirstUser, max(0, users - 1))) {
            blocks.insert(BlockRelation(blocker: UsernameRules.key(name), blocked: UsernameRules.key(names[0])))
        }
        self.names = names
        self.state = NIOLockedValueBox(Hub.State(
            presence: presence,
            users: known,
            blocks: blocks,
            lastDelivered: 0,
            reservations: NameReservations(duration: .zero),
            accounts: [:],
            recentBroadcasts: RecentBroadcasts(historyLimit: 0, stored: [])
        ))
    }

    /// What the hub decides about a message it is given.
    public enum Decision: Equatable, Sendable {
        /// Accepted, as it will be stored and delivered.
        case accepted(ChatMessage)
        /// Refused, with the error the sender is sent.
        case refused(String)
    }

    /// Accepts `message` from the user whose key is `senderKey` as ``Hub`` does (DEST resolved,
    /// blocks checked), or refuses it.
    public func accept(_ message: ChatMessage, senderKey: String) -> Decision {
        let destinationKey = UsernameRules.key(message.destination)
        switch state.withLockedValue({ $0.accept(message, destinationKey: destinationKey, from: senderKey) }) {
        case .success(let accepted): return .accepted(accepted)
        case .failure(let refusal): return .refused(refusal.reason)
        }
    }

    /// Chooses the recipients of a broadcast from `senderKey`, per loop, as ``Hub`` does after
    /// the commit: how many connections the frame is queued for.
    public func routeBroadcast(from senderKey: String) -> Int {
        state.withLockedValue { state in
            var recipients = 0
            state.forEachBroadcastGroup(from: senderKey) { recipients += $1.count }
            return recipients
        }
    }

    /// Chooses the connections a direct message from `senderKey` to `recipientKey` is written
    /// to (the recipient's and the sender's copy): how many.
    public func routeDirect(to recipientKey: String, from senderKey: String) -> Int {
        state.withLockedValue { state in
            let route = state.directRoute(to: recipientKey, from: senderKey)
            return (route.recipient == nil ? 0 : 1) + (route.echo == nil ? 0 : 1)
        }
    }
}
