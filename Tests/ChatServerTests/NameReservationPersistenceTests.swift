import ChatProtocol
@testable import ChatServer
import ChatStoreSQLite
import ChatTestSupport
import NIOCore
import Testing

/// An unregistered name stays with its address across restarts and for thirty days by default;
/// whoever gets the name later gets it without its past; users are told how to keep a name
/// (issue 21 item 5).
@Suite struct NameReservationPersistenceTests {
    /// Logs `name` in from `address`, then out, and waits until the server has handled the leave.
    private func useAndLeave(_ name: String, from address: String, on server: TestServer, observer: TestClient) async throws {
        let client = try await server.login(name, from: address)
        _ = try await observer.next { $0.usersJoined == [name] }
        await client.close()
        _ = try await observer.next { $0.usersLeft == [name] }
    }

    @Test func aReservationOutlivesARestartAndLastsThirtyDaysByDefault() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        try await TestServer.with(dataDirectory: directory.path, configure: { $0.clock = clock.serverClock }) { server in
            let observer = try await server.login("observer")
            try await useAndLeave("alice", from: "127.0.0.1", on: server, observer: observer)
        }
        clock.advance(by: .hours(24))
        try await TestServer.with(dataDirectory: directory.path, configure: { $0.clock = clock.serverClock }) { server in
            let stranger = try await server.connect(from: "127.0.0.2")
            let refused = try await stranger.login("alice")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.contains("alice is reserved for another 29 days for the address that last used it") == true)
            // A plain client cannot send a password: it is told what it can do.
            #expect(refused.info?.contains("connect from the network you used before") == true)
            #expect(refused.info?.contains("/Register") == false)
            let negotiated = try await server.connect(from: "127.0.0.2")
            var login = Frame(username: "alice")
            login.features = ["commands", "accounts"]
            try await negotiated.send(login)
            let told = try await negotiated.next { $0.usernameAccepted != nil }.frame
            #expect(told.info?.contains("type /Register <password>: a registered name works from any address") == true)
            let owner = try await server.connect(from: "127.0.0.1")
            #expect(try await owner.login("alice").usernameAccepted == true)
        }
    }

    @Test func afterItsReservationANameGoesToAnotherAddressWithoutItsPast() async throws {
        let clock = ManualClock()
        try await TestServer.with(configure: {
            $0.clock = clock.serverClock
            $0.nameReservation = .minutes(10)
        }) { server in
            let bob = try await server.login("bob", from: "127.0.0.1")
            let alice = try await server.login("alice", from: "127.0.0.1")
            try await bob.say("secret one", as: "bob", to: "alice")
            _ = try await alice.nextMessages()
            await alice.close()
            _ = try await bob.next { $0.usersLeft == ["alice"] }
            try await bob.say("secret while away", as: "bob", to: "alice")
            _ = try await bob.next { $0.messages?.contains { $0.content == "secret while away" } == true }
            let file = try await FileUploadSteps.upload(FileUploadSteps.bytes(100), name: "for-alice.txt", to: "alice", by: bob)
            let shared = try await FileUploadSteps.upload(FileUploadSteps.bytes(50, seed: 3), name: "for-all.txt", by: bob)
            try await bob.say("hello everyone", as: "bob")
            _ = try await bob.next { $0.messages?.contains { $0.content == "hello everyone" } == true }

            clock.advance(by: .minutes(11))
            let newcomer = try await server.connect(from: "127.0.0.2")
            var login = Frame(username: "alice")
            login.features = ["history", "files"]
            try await newcomer.send(login)
            let reply = try await newcomer.next { $0.usernameAccepted != nil }.frame
            #expect(reply.usernameAccepted == true)
            #expect(reply.info?.contains("was used from another address before") == true)
            let replayed = reply.messages?.map(\.content) ?? []
            #expect(!replayed.contains("secret one") && !replayed.contains("secret while away"))
            #expect(replayed.contains("hello everyone"), "broadcasts are everyone's")
            #expect(reply.info?.contains("arrived while you were away") == false)
            // Neither paging back nor searching reaches the name's past.
            var search = Frame()
            search.extensions = [.init(key: Frame.Key.search, value: HistoryQuery(limit: 10, query: "secret").jsonValue)]
            try await newcomer.send(search)
            #expect(try await newcomer.next { $0.extensionValue(Frame.Key.search) != nil }.frame.messages?.isEmpty == true)
            var page = Frame()
            page.extensions = [.init(key: Frame.Key.history, value: HistoryQuery(limit: 50).jsonValue)]
            try await newcomer.send(page)
            let paged = try await newcomer.next { $0.extensionValue(Frame.Key.history) != nil }.frame.messages?.map(\.content) ?? []
            #expect(!paged.contains { $0.hasPrefix("secret") })
            // Nor the files sent to it then; a file for everyone stays everyone's.
            let files = try await FileUploadSteps.files(visibleTo: newcomer).map(\.id)
            #expect(!files.contains(file.id) && files.contains(shared.id))
            // What reaches the name now is the new holder's.
            try await bob.say("welcome", as: "bob", to: "alice")
            #expect(try await newcomer.nextMessages().map(\.content) == ["welcome"])
        }
    }

    @Test func unregisteredUsersAreToldThatRegisteringKeepsTheirName() async throws {
        try await TestServer.with(configure: { $0.passwordHashRounds = 2_000 }) { server in
            let plain = try await server.connect()
            let plainReply = try await plain.login("carol")
            #expect(plainReply.info?.contains("carol is not registered: it stays reserved for this address for 30 days after you leave.") == true)
            #expect(plainReply.info?.contains("/Register") == false)
            let negotiated = try await server.connect()
            let reply = try await negotiated.login("dave", features: ["commands", "accounts"])
            #expect(reply.info?.contains("Type /Register <password> to keep it from any address.") == true)
        }
    }

    @Test func oneHolderKeepsItsIPv6NetworkAndIPv4AddressesAreExact() {
        #expect(NameReservations.sameHolder("2001:db8:1:2:aaaa::1", "2001:db8:1:2:bbbb:cccc:dddd:eeee"))
        #expect(!NameReservations.sameHolder("2001:db8:1:2::1", "2001:db8:1:3::1"))
        #expect(NameReservations.sameHolder("192.0.2.1", "192.0.2.1"))
        #expect(!NameReservations.sameHolder("192.0.2.1", "192.0.2.2"))
        #expect(!NameReservations.sameHolder("::ffff:192.0.2.1", "::ffff:192.0.2.2"))
        #expect(!NameReservations.sameHolder("192.0.2.1", "2001:db8::1"))
    }
}

/// Throwaway names do not pile up: users never registered, unseen for the expiry time, with
/// nothing stored for them, are forgotten (issue 21 item 9).
@Suite struct UserExpiryTests {
    @Test func usersWithNothingStoredAreForgottenAfterTheirTime() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let configure: (inout ServerConfiguration) -> Void = {
            $0.clock = clock.serverClock
            $0.passwordHashRounds = 2_000
            // Files kept: the uploader has something stored.
            $0.fileLifetime = .zero
        }
        try await TestServer.with(dataDirectory: directory.path, configure: configure) { server in
            let observer = try await server.login("observer")
            for name in ["throwaway", "waiting", "blocked", "blocker", "registered", "filer"] {
                let client = try await server.login(name, features: ["commands", "accounts", "files"])
                switch name {
                case "blocker":
                    try await client.say("/Block blocked", as: name)
                    _ = try await client.nextMessages()
                case "registered":
                    try await client.say("/Register a good password", as: name, to: "Chatterbox")
                    _ = try await client.nextMessages()
                case "filer":
                    try await FileUploadSteps.upload(FileUploadSteps.bytes(10), name: "keep.txt", by: client)
                default:
                    break
                }
                await client.close()
                _ = try await observer.next { $0.usersLeft == [name] }
            }
            try await observer.say("read me", as: "observer", to: "waiting")
            _ = try await observer.nextMessages()

            clock.advance(by: .hours(24 * 29))
            #expect(await server.server.performHousekeeping()?.forgottenUsers == 0)
            clock.advance(by: .hours(24 * 2))
            #expect(await server.server.performHousekeeping()?.forgottenUsers == 1)
            try await observer.say("/DisplayAllUsers", as: "observer", to: "Chatterbox")
            let everyone = try await observer.nextMessages().map(\.content).joined()
            #expect(!everyone.contains("throwaway") && everyone.contains("waiting") && everyone.contains("blocked"))
        }
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        let names = Set(try store.load().users.map(\.name))
        try store.close()
        #expect(names == ["observer", "waiting", "blocker", "blocked", "registered", "filer"])
        // A forgotten name is free for anyone at once, with nothing reserved.
        try await TestServer.with(dataDirectory: directory.path, configure: configure) { server in
            let other = try await server.connect(from: "127.0.0.2")
            #expect(try await other.login("throwaway").usernameAccepted == true)
        }
    }
}
