@testable import ChatServer
import ChatProtocol
import ChatTestSupport
import NIOCore
import Testing

/// The session owns the hub's handle on its connection (`ClientConnection`), which refers
/// back to it weakly: nothing has to break a cycle by hand, and once the channel is closed and
/// the hub has forgotten the user, both are freed.
@Suite struct ConnectionLifetimeTests {
    /// A weak reference to hand across threads; only ever compared with nil off its loop.
    private final class WeakReference<Object: AnyObject>: @unchecked Sendable {
        weak var object: Object?
        init(_ object: Object?) { self.object = object }
    }

    @Test func aClosedConnectionsSessionAndHandleAreFreed() async throws {
        try await TestServer.with { server in
            let hub = server.server.hub
            let alice = try await server.login("alice")
            let key = UsernameRules.key("alice")
            let (handle, session) = try await Self.weakReferences(to: key, in: hub)
            #expect(handle.object != nil && session.object != nil)

            await alice.close()
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
            while handle.object != nil || session.object != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(hub.state.withLockedValue { $0.presence.byKey[key] } == nil, "the hub still has alice online")
            #expect(session.object == nil, "the session outlived its channel")
            #expect(handle.object == nil, "the hub's handle on the connection outlived it")
        }
    }

    /// The hub's handle on `key`'s connection and its session, held weakly only (no strong
    /// reference outlives this call).
    private static func weakReferences(to key: String, in hub: Hub) async throws -> (WeakReference<ClientConnection>, WeakReference<SessionHandler>) {
        let connection = try #require(hub.state.withLockedValue { $0.presence.byKey[key] })
        let session = try await connection.eventLoop.submit { WeakReference(connection.session) }.get()
        return (WeakReference(connection), session)
    }
}
