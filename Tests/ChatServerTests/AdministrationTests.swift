import ChatProtocol
import ChatStore
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChatServer

/// Operators (/Kick, /Ban, /Unban, /Bans, /Announce from a chat client), the admin socket
/// (`chatterbox admin`'s other end), bans kept across restarts, the message of the day, and the
/// settings that change live.
@Suite struct AdministrationTests {
    static let features = ["commands", "accounts", "operators"]
    static let password = "operator password"

    /// Quick password hashes, `root` as the operator, the admin socket in `directory`.
    private static func configure(_ directory: String, operators: [String] = ["root"], motd: String? = nil) -> (inout ServerConfiguration) -> Void {
        { configuration in
            configuration.passwordHashRounds = 2_000
            configuration.operators = operators
            configuration.motd = motd
            configuration.adminSocketPath = AdminClient.socketPath(inDataDirectory: directory)
        }
    }

    /// Registers `name` with `password` (logs in, /Register, leaves); returns once the server
    /// handled the leave.
    private func register(_ name: String, on server: TestServer) async throws {
        let observer = try await server.login("watcher-\(name)")
        let client = try await server.login(name, features: Self.features)
        try await client.say("/Register \(Self.password)", as: name, to: "Chatterbox")
        #expect(try await client.nextMessages().first?.content.hasPrefix("Registered \(name)") == true)
        await client.close()
        _ = try await observer.next { $0.usersLeft == [name] }
        await observer.close()
    }

    /// `name` logged in with its password; the acceptance.
    private func loginWithPassword(_ name: String, from address: String? = nil, on server: TestServer) async throws -> (TestClient, Frame) {
        let client = try await server.connect(from: address)
        var frame = Frame(username: name)
        frame.features = Self.features
        frame.extensions.append(.init(key: "PASSWORD", value: .string(Self.password)))
        try await client.send(frame)
        let reply = try await client.next { $0.usernameAccepted != nil }.frame
        return (client, reply)
    }

    /// The registered operator `root`, logged in.
    private func operatorClient(on server: TestServer) async throws -> TestClient {
        try await register("root", on: server)
        let (client, reply) = try await loginWithPassword("root", on: server)
        #expect(reply.usernameAccepted == true)
        #expect(reply.features?.contains("operators") == true, "an operator is told so")
        return client
    }

    /// `client` (logged in as `name`) runs `command`; the lines of the server's answer.
    private func run(_ command: String, as name: String, on client: TestClient) async throws -> [String] {
        try await client.say(command, as: name, to: "Chatterbox")
        let frame = try await client.next { $0.messages != nil || $0.error != nil }.frame
        if let error = frame.error { return ["ERROR: " + error] }
        return frame.messages!.map(\.content)
    }

    @Test func anOperatorKicksAUserWhoIsToldWhyAndOthersSeeTheLeave() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let root = try await operatorClient(on: server)
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            #expect(try await run("/Kick bob flooding the room", as: "root", on: root) == ["bob was disconnected."])
            let last = try await bob.waitForClose()
            #expect(last.compactMap(\.error).contains("You were disconnected by root: flooding the room"))
            _ = try await carol.next { $0.usersLeft == ["bob"] }
            #expect(try await run("/Kick bob", as: "root", on: root) == ["ERROR: bob is not online."])
            #expect(try await run("/Kick root", as: "root", on: root) == ["ERROR: You cannot kick yourself."])
        }
    }

    @Test func aNonOperatorIsRefusedAndNothingHappens() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let bob = try await server.login("bob")
            let carol = try await server.login("carol", features: Self.features)
            for command in ["/Kick bob", "/Ban bob", "/Unban bob", "/Bans", "/Announce hello"] {
                let answer = try await run(command, as: "carol", on: carol)
                #expect(answer.count == 1 && answer[0].hasPrefix("ERROR: /") && answer[0].contains("is for operators, and you are not one"), "\(command): \(answer)")
            }
            // bob is still here, and heard nothing.
            try await carol.say("still there?", as: "carol", to: "bob")
            #expect(try await bob.nextMessages().map(\.content) == ["still there?"])
        }
    }

    @Test func anUnregisteredUserHoldingAnOperatorsNameIsNoOperator() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let bob = try await server.login("bob")
            let impostor = try await server.login("root", features: Self.features)
            let refused = try await run("/Kick bob", as: "root", on: impostor)
            #expect(refused.first?.contains("is for operators, and you are not one") == true)
            // Registering the name in this session does not make them one either: they did not
            // log in with a password that was the operator's.
            #expect(try await run("/Register \(Self.password)", as: "root", on: impostor).first?.hasPrefix("Registered root") == true)
            #expect(try await run("/Ban bob", as: "root", on: impostor).first?.contains("is for operators") == true)
            try await impostor.say("hi", as: "root", to: "bob")
            #expect(try await bob.nextMessages().map(\.content) == ["hi"])
        }
    }

    @Test func aBannedNameIsDisconnectedAndRefusedWithTheTimeLeftAndTheReason() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let root = try await operatorClient(on: server)
            let bob = try await server.login("bob")
            let answer = try await run("/Ban bob 2h spamming links", as: "root", on: root)
            #expect(answer == ["Banned bob for 2 hours. Disconnected: bob."])
            let last = try await bob.waitForClose()
            #expect(last.compactMap(\.error).contains("You were banned by root for 2 hours. Reason: spamming links"))

            let again = try await server.connect()
            let refused = try await again.login("BOB")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info == "The username bob is banned for another 2 hours. Reason: spamming links")
            #expect(try await run("/Bans", as: "root", on: root) == ["Bans in force (1):", "  bob (name), by root, for another 2 hours: spamming links"])

            #expect(try await run("/Unban bob", as: "root", on: root) == ["The ban on bob is lifted."])
            #expect(try await again.login("bob").usernameAccepted == true)
            #expect(try await run("/Unban bob", as: "root", on: root) == ["ERROR: There is no ban on bob."])
        }
    }

    @Test func anAddressRangeBanRefusesItsConnectionsButNeverTheOperatorsOwn() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let root = try await operatorClient(on: server)
            let bob = try await server.login("bob", from: "127.0.0.5")
            let carol = try await server.login("carol", from: "127.0.0.9")
            #expect(try await run("/Ban 127.0.0.0/24", as: "root", on: root).first?.hasPrefix("ERROR: Not banned: 127.0.0.0/24 holds your own address") == true)
            #expect(try await run("/Ban 127.0.0.4/30 2d a noisy network", as: "root", on: root) == ["Banned 127.0.0.4/30 for 2 days. Disconnected: bob."])
            _ = try await bob.waitForClose()
            _ = try await carol.next { $0.usersLeft == ["bob"] }

            // A new connection from the range is told at once and closed.
            let refused = try await server.connect(from: "127.0.0.6")
            let frames = try await refused.waitForClose()
            #expect(frames.compactMap(\.error) == ["Connection refused: Your address is banned for another 2 days. Reason: a noisy network"])
            // Outside it, all is well.
            _ = try await server.login("dave", from: "127.0.0.8")
        }
    }

    @Test func anAnnouncementReachesEveryone() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let root = try await operatorClient(on: server)
            let bob = try await server.login("bob")
            let carol = try await server.login("carol")
            #expect(try await run("/Announce Restarting at 22:00 UTC", as: "root", on: root) == ["Announced to 3 users online."])
            for client in [bob, carol] {
                #expect(try await client.next { $0.info != nil }.frame.info == "Announcement from root: Restarting at 22:00 UTC")
            }
        }
    }

    @Test func theAdminSocketIsTheOwnersOnlyAndRunsTheSameCommands() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let path = AdminClient.socketPath(inDataDirectory: directory.path)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(attributes[.type] as? FileAttributeType == .typeSocket)

            let bob = try await server.login("bob", from: "127.0.0.2")
            let carol = try await server.login("carol")
            let who = try AdminClient.send("who", socketPath: path)
            #expect(who.ok && who.lines == ["Online (2):", "  bob from 127.0.0.2", "  carol from 127.0.0.1"])

            let announced = try AdminClient.send("announce Maintenance tonight", socketPath: path)
            #expect(announced == AdminReply(ok: true, lines: ["Announced to 2 users online."]))
            #expect(try await bob.next { $0.info != nil }.frame.info == "Announcement from the administrator: Maintenance tonight")

            #expect(try AdminClient.send("kick bob go away", socketPath: path) == AdminReply(ok: true, lines: ["bob was disconnected."]))
            #expect(try await bob.waitForClose().compactMap(\.error).contains("You were disconnected by the administrator: go away"))
            _ = try await carol.next { $0.usersLeft == ["bob"] }

            #expect(try AdminClient.send("ban 127.0.0.2", socketPath: path).lines == ["Banned 127.0.0.2 until an operator lifts the ban."])
            let refused = try await server.connect(from: "127.0.0.2")
            #expect(try await refused.waitForClose().compactMap(\.error).first?.hasPrefix("Connection refused: Your address is banned until an operator lifts the ban.") == true)
            #expect(try AdminClient.send("unban 127.0.0.2", socketPath: path).ok)
            _ = try await server.login("bob", from: "127.0.0.2")

            let stats = try AdminClient.send("stats", socketPath: path)
            #expect(stats.ok && stats.lines.contains("Users online: 2") && stats.lines.contains("Operators: root"))
            let wrong = try AdminClient.send("frobnicate", socketPath: path)
            #expect(!wrong.ok && wrong.lines.first == "Unknown command \"frobnicate\".")
            let usage = try AdminClient.send("ban", socketPath: path)
            #expect(!usage.ok && usage.lines.first?.hasPrefix("Usage: Ban <username|address[/prefix]>") == true)
        }
        #expect(!FileManager.default.fileExists(atPath: AdminClient.socketPath(inDataDirectory: directory.path)), "the socket goes with the server")
    }

    @Test func aBanOutlivesARestart() async throws {
        let directory = TemporaryDirectory()
        let path = AdminClient.socketPath(inDataDirectory: directory.path)
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { (_: TestServer) async throws in
            #expect(try AdminClient.send("ban bob 7d persistent pest", socketPath: path).ok)
            #expect(try AdminClient.send("ban 203.0.113.0/24", socketPath: path).ok)
            #expect(try AdminClient.send("ban carol 1h", socketPath: path).ok)
            #expect(try AdminClient.send("unban carol", socketPath: path).ok)
        }
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        let stored = try store.load().bans
        try store.close()
        #expect(Set(stored.map(\.display)) == ["bob", "203.0.113.0/24"])

        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path)) { server in
            let client = try await server.connect()
            let refused = try await client.login("bob")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.hasPrefix("The username bob is banned for another 7 days") == true)
            #expect(refused.info?.hasSuffix("Reason: persistent pest") == true)
            #expect(try await client.login("carol").usernameAccepted == true)
            let bans = try AdminClient.send("bans", socketPath: path)
            #expect(bans.lines.first == "Bans in force (2):")
        }
    }

    @Test func theMessageOfTheDayFollowsTheWelcome() async throws {
        let directory = TemporaryDirectory()
        let motd = "Be kind. Rules: https://example.org/rules"
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path, motd: motd)) { server in
            let client = try await server.connect()
            try await client.send(Frame(username: "alice"))
            let accepted = try await client.next()
            #expect(accepted.usernameAccepted == true)
            #expect(try await client.next().info == motd)
        }
    }

    @Test func liveSettingsChangeTheRateTheOperatorsAndTheMessageOfTheDay() async throws {
        let directory = TemporaryDirectory()
        try await TestServer.with(dataDirectory: directory.path, configure: Self.configure(directory.path, operators: [])) { server in
            try await register("root", on: server)
            let (root, reply) = try await loginWithPassword("root", on: server)
            #expect(reply.features?.contains("operators") == false)
            #expect(try await run("/Bans", as: "root", on: root).first?.contains("is for operators") == true)

            var settings = server.server.liveSettings
            settings.operators = ["Root"]
            settings.motd = "New rules"
            // Slow enough that no token comes back during the test, however slow the machine.
            settings.messagesPerSecond = 0.1
            settings.messageBurst = 2
            #expect(server.server.reconfigure(settings) == ["operators", "motd", "message rate"])
            #expect(try await run("/Bans", as: "root", on: root) == ["No bans in force."])

            // The rate applies to those online: /Bans took one of the two, so of five messages
            // one goes through.
            try await root.send((0..<5).map { ChatMessage(source: "root", destination: "ALL", timestamp: 1, content: "m\($0)") })
            let error = try await root.nextError()
            #expect(error.hasPrefix("Slow down: 4 messages were not sent (at most 0.1 per second, bursts of 2)"), "\(error)")

            let late = try await server.connect()
            try await late.send(Frame(username: "latecomer"))
            _ = try await late.next { $0.usernameAccepted == true }
            #expect(try await late.next { $0.info != nil }.frame.info == "New rules")
        }
    }

    @Test func liveConnectionLimitsApplyToNewConnections() async throws {
        let directory = TemporaryDirectory()
        let configure = Self.configure(directory.path)
        try await TestServer.with(dataDirectory: directory.path, configure: { configuration in
            configure(&configuration)
            // Loopback counts, as another machine's addresses would.
            configuration.limits.connectionLimitExemptions = []
        }) { server in
            var settings = server.server.liveSettings
            let first = try await server.login("first", from: "127.0.0.3")
            settings.connectionsPerAddress = 1
            #expect(server.server.reconfigure(settings) == ["connection limits"])
            let second = try await server.connect(from: "127.0.0.3")
            #expect(try await second.waitForClose().compactMap(\.error).first?.contains("there are already 1 connections from 127.0.0.3") == true)
            settings.connectionsPerAddress = 0
            server.server.reconfigure(settings)
            _ = try await server.login("third", from: "127.0.0.3")
            await first.close()
        }
    }

    // MARK: - Parsing and matching

    @Test(arguments: [
        ("/Kick bob", AdminRequest.kick(name: "bob", reason: "")),
        ("/kick @bob  too loud ", .kick(name: "bob", reason: "too loud")),
        ("/Ban bob", .ban(.name("bob"), display: "bob", duration: nil, reason: "")),
        ("/Ban Bob 30m spam", .ban(.name("bob"), display: "Bob", duration: 1800, reason: "spam")),
        ("/Ban bob 2 weeks", .ban(.name("bob"), display: "bob", duration: nil, reason: "2 weeks")),
        ("/Ban 2001:db8::/48 4w", .ban(.network("2001:db8::/48"), display: "2001:db8::/48", duration: 2_419_200, reason: "")),
        ("/Ban 203.0.113.77/24 1d", .ban(.network("203.0.113.0/24"), display: "203.0.113.0/24", duration: 86_400, reason: "")),
        ("/Unban 203.0.113.9", .unban(.network("203.0.113.9"), display: "203.0.113.9")),
        ("/Announce Hello all", .announce("Hello all")),
        ("/Bans", .bans),
    ])
    func operatorCommandsAreParsed(text: String, expected: AdminRequest) throws {
        let command = try #require(ChatCommand.parse(text))
        #expect(try AdminRequest.parse(command).get() == expected)
    }

    @Test(arguments: ["/Kick", "/Ban", "/Unban", "/Unban bob now", "/Announce"])
    func operatorCommandsWithoutOperandsGetTheirUsage(text: String) throws {
        let command = try #require(ChatCommand.parse(text))
        guard case .failure(let usage) = AdminRequest.parse(command) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(usage.text.hasPrefix("Usage: /"))
    }

    @Test func bansMatchNamesAndAddressRangesAndExpire() {
        var list = BanList()
        list.insert(Ban(target: .name("bob"), display: "bob", reason: "", by: "root", since: 100, until: 200))
        list.insert(Ban(target: .network("2001:db8:1::/48"), display: "2001:db8:1::/48", reason: "", by: "root", since: 100, until: nil))
        list.insert(Ban(target: .network("198.51.100.0/24"), display: "198.51.100.0/24", reason: "", by: "root", since: 100, until: nil))
        #expect(list.ban(forName: "bob", at: 150) != nil)
        #expect(list.ban(forName: "bob", at: 200) == nil, "expired")
        #expect(list.ban(forAddress: "2001:db8:1:ffff::7", at: 150) != nil)
        #expect(list.ban(forAddress: "2001:db8:2::7", at: 150) == nil)
        #expect(list.ban(forAddress: "198.51.100.200", at: 150) != nil)
        #expect(list.ban(forAddress: "::ffff:198.51.100.9", at: 150) != nil, "an IPv4-mapped address is the IPv4 address")
        #expect(list.ban(forAddress: "198.51.101.1", at: 150) == nil)
        #expect(list.remove(.network("198.51.100.0/24")) != nil)
        #expect(list.ban(forAddress: "198.51.100.200", at: 150) == nil)
        #expect(list.active(at: 250).map(\.display) == ["2001:db8:1::/48"])
    }
}
