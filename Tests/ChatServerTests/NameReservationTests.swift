import ChatProtocol
import ChatServer
import ChatTestSupport
import NIOCore
import Testing

/// A name stays with the address that last used it for a while after its user leaves.
/// Clients connect from 127.0.0.1 and 127.0.0.2, which the server sees as two addresses.
@Suite struct NameReservationTests {
    /// Logs `name` in from `address`, then out, and waits until the server has handled the leave.
    private func useAndLeave(_ name: String, from address: String, on server: TestServer, observer: TestClient) async throws {
        let client = try await server.login(name, from: address)
        _ = try await observer.next { $0.usersJoined == [name] }
        await client.close()
        _ = try await observer.next { $0.usersLeft == [name] }
    }

    @Test func aNameIsRefusedFromAnotherAddressWithTheReason() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.nameReservation = .minutes(5)
            $0.clock = clock.serverClock
        }) { server in
            let observer = try await server.login("observer")
            try await useAndLeave("alice", from: "127.0.0.1", on: server, observer: observer)
            clock.advance(by: .seconds(60))
            let stranger = try await server.connect(from: "127.0.0.2")
            let refused = try await stranger.login("ALICE")
            #expect(refused.usernameAccepted == false)
            let info = try #require(refused.info)
            #expect(info.contains("alice is reserved for another 4 minutes"))
            #expect(info.contains("address that last used it"))
            // The same connection may pick another name.
            #expect(try await stranger.login("mallory").usernameAccepted == true)
        }
    }

    @Test func theSameAddressGetsItsNameBackAtOnce() async throws {
        try await TestServer.with(configure: { $0.nameReservation = .minutes(5) }) { server in
            let observer = try await server.login("observer")
            try await useAndLeave("bob", from: "127.0.0.2", on: server, observer: observer)
            let again = try await server.connect(from: "127.0.0.2")
            #expect(try await again.login("bob").usernameAccepted == true)
        }
    }

    @Test func theNameIsReleasedWhenTheReservationEnds() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.nameReservation = .seconds(30)
            $0.clock = clock.serverClock
        }) { server in
            let observer = try await server.login("observer")
            try await useAndLeave("carol", from: "127.0.0.1", on: server, observer: observer)
            clock.advance(by: .seconds(29))
            let early = try await server.connect(from: "127.0.0.2")
            let refused = try await early.login("carol")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.contains("reserved for another 1 second") == true)
            clock.advance(by: .seconds(2))
            #expect(try await early.login("carol").usernameAccepted == true)
            // The new owner's address now holds it.
            await early.close()
            _ = try await observer.next { $0.usersLeft == ["carol"] }
            let formerOwner = try await server.connect(from: "127.0.0.1")
            #expect(try await formerOwner.login("carol").usernameAccepted == false)
        }
    }

    @Test func reservationsCanBeSwitchedOff() async throws {
        try await TestServer.with(configure: { $0.nameReservation = .zero }) { server in
            let observer = try await server.login("observer")
            try await useAndLeave("dave", from: "127.0.0.1", on: server, observer: observer)
            let other = try await server.connect(from: "127.0.0.2")
            #expect(try await other.login("dave").usernameAccepted == true)
        }
    }

    @Test func aNameNeverUsedIsNotReserved() async throws {
        try await TestServer.with { server in
            let client = try await server.connect(from: "127.0.0.3")
            #expect(try await client.login("erin").usernameAccepted == true)
        }
    }
}
