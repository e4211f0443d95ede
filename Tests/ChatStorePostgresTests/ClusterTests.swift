import ChatClient
import ChatProtocol
import ChatStorePostgres
import ChatTestSupport
import Foundation
import PostgresNIO
import Testing

/// Several real `chatterbox server` processes on one PostgreSQL database form one chat: one
/// user list, one history, one order, each name online once; a node killed with -9 has its
/// users leave everywhere once its lease runs out.
@Suite struct ClusterTests {
    /// A node: the server process and where its clients find its certificate authority.
    struct Node {
        let process: ServerProcess
        let directory: String
        var caPath: String { directory + "/ca.crt" }

        func connect() async throws -> TestClient {
            try await TestClient.connect(host: "127.0.0.1", port: process.port, security: .tls(.certificateAuthorityFile(caPath)))
        }

        func login(_ name: String) async throws -> TestClient {
            let client = try await connect()
            let reply = try await client.login(name)
            guard reply.usernameAccepted == true else {
                throw TestFailure("login as \(name) refused: \(reply.info ?? "")\n--- the node's output:\n\(process.output)")
            }
            return client
        }
    }

    static let lease = 3

    /// Runs `body` with `count` nodes on a fresh database, stopped afterwards.
    func withCluster<T: Sendable>(_ count: Int, arguments: [String] = [], _ body: ([Node], PostgresLocation) async throws -> T) async throws -> T {
        try await TestDatabase.withFreshDatabase { location in
            let url = try PostgresServerCommandTests.url(of: location)
            let root = TemporaryDirectory()
            var nodes: [Node] = []
            defer { for node in nodes { node.process.kill() } }
            for index in 1...count {
                let directory = root.path + "/n\(index)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let process = try await ServerProcess.start(dataDirectory: directory, arguments: [
                    "--store", url, "--node", "n\(index)", "--presence-lease-seconds", String(Self.lease), "--no-limits",
                ] + arguments)
                nodes.append(Node(process: process, directory: directory))
            }
            let result = try await body(nodes, location)
            _ = root.path
            return result
        }
    }

    @Test func threeNodesAreOneChat() async throws {
        try await withCluster(3) { nodes, _ in
            let alice = try await nodes[0].login("alice")
            let bob = try await nodes[1].login("bob")
            try await alice.next { $0.usersJoined == ["bob"] }
            let carolConnection = try await nodes[2].connect()
            let carol = carolConnection
            let carolReply = try await carol.login("carol")
            // One user list: carol, on the third node, is told of the others: in her welcome, or,
            // for logins the third node had not yet read from the log when she logged in (alice's
            // as well as bob's), as joins right after it (the list is as of her login, and every
            // change after it follows in order).
            var carolKnows = Set(carolReply.userList ?? [])
            while !carolKnows.isSuperset(of: ["alice", "bob"]) {
                let joined = try await carol.next { $0.usersJoined != nil }.frame.usersJoined ?? []
                #expect(carolKnows.isDisjoint(with: joined), "told twice of \(joined)")
                carolKnows.formUnion(joined)
            }
            #expect(carolKnows == ["alice", "bob", "carol"])
            try await alice.next { $0.usersJoined == ["carol"] }
            try await bob.next { $0.usersJoined == ["carol"] }

            // A name is online once in the whole cluster.
            let impostor = try await nodes[2].connect()
            let refused = try await impostor.login("alice")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.contains("already in use") == true)

            // One order: everyone sees every broadcast, in the same order, whichever node sent it.
            let clients = [alice, bob, carol]
            let names = ["alice", "bob", "carol"]
            for round in 0..<10 {
                for (client, name) in zip(clients, names) {
                    try await client.say("\(name) \(round)", as: name)
                }
            }
            var seen: [[String]] = []
            for client in clients {
                var contents: [String] = []
                while contents.count < 30 {
                    let messages = try await client.nextMessages(timeout: .seconds(30))
                    contents += messages.map(\.content)
                }
                seen.append(contents)
            }
            #expect(Set(seen[0]).count == 30)
            #expect(seen[0] == seen[1] && seen[1] == seen[2], "\(seen)")

            // A direct message crosses nodes: the recipient and the sender's echo, nobody else.
            try await alice.say("psst carol", as: "alice", to: "carol")
            #expect(try await carol.next { $0.messages != nil }.frame.messages?.first?.content == "psst carol")
            #expect(try await alice.next { $0.messages != nil }.frame.messages?.first?.content == "psst carol")
            try await bob.say("after the secret", as: "bob")
            #expect(try await bob.nextMessages().first?.content == "after the secret")

            // History at login holds every node's messages.
            let dave = try await nodes[1].connect()
            let daveReply = try await dave.login("dave")
            let history = daveReply.messages?.map(\.content) ?? []
            #expect(history.suffix(31) == seen[0] + ["after the secret"], "\(daveReply.info ?? "") \(history)\n\(nodes[1].process.output)")

            // A leave is seen everywhere.
            await bob.close()
            try await alice.next { $0.usersLeft == ["bob"] }
            try await carol.next { $0.usersLeft == ["bob"] }
        }
    }

    @Test func aKilledNodesUsersLeaveOnceItsLeaseRunsOut() async throws {
        try await withCluster(2) { nodes, _ in
            let alice = try await nodes[0].login("alice")
            // Kept open: bob leaves only with his node.
            let bob = try await nodes[1].login("bob")
            try await alice.next { $0.usersJoined == ["bob"] }
            nodes[1].process.kill()
            let killed = ContinuousClock.now
            // bob's connection died with the node; the other node announces him once the lease
            // is over (and its sweep comes round).
            try await alice.next(timeout: .seconds(Self.lease * 4 + 10)) { $0.usersLeft == ["bob"] }
            // Not before the lease could have run out: the node renewed it a third of a lease
            // before the kill at the earliest.
            #expect(ContinuousClock.now - killed >= .seconds(Self.lease) * 2 / 3 - .milliseconds(500))
            // And bob may log in again, on the node that is left.
            let bobAgain = try await nodes[0].connect()
            #expect(try await bobAgain.login("bob").usernameAccepted == true)
            await bob.close()
        }
    }

    /// The database goes away mid-traffic (every connection cut, new ones refused, as in a
    /// restart) and comes back: the nodes keep their clients, answer what they cannot store
    /// with an ERROR (never a silent drop, never a delivery that was not stored), and resume by
    /// themselves; what was stored is delivered once, in one order, everywhere.
    @Test func theDatabaseGoingAwayAndComingBackLosesNothingStored() async throws {
        try await withCluster(2) { nodes, location in
            let alice = try await nodes[0].login("alice")
            let bob = try await nodes[1].login("bob")
            try await alice.next { $0.usersJoined == ["bob"] }
            try await alice.say("before", as: "alice")
            #expect(try await bob.nextMessages().map(\.content) == ["before"])
            #expect(try await alice.nextMessages().map(\.content) == ["before"])

            try await Self.setDatabase(location, reachable: false)
            // Each message sent meanwhile is refused with an ERROR (it could not be stored),
            // and nobody receives it.
            for index in 1...3 {
                try await alice.say("during \(index)", as: "alice")
                let answer = try await alice.next(timeout: .seconds(60)) { $0.error != nil || $0.messages != nil }
                #expect(answer.frame.error?.contains("could not store it") == true, "\(answer.frame)")

            }
            try await Self.setDatabase(location, reachable: true)

            // Both nodes come back by themselves: a message goes through again, both ways.
            var delivered = false
            for attempt in 1...60 where !delivered {
                try await alice.say("after \(attempt)", as: "alice")
                let answer = try await alice.next(timeout: .seconds(30)) { $0.error != nil || $0.messages != nil }
                delivered = answer.frame.messages != nil

                if !delivered { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(delivered)
            // Bob's node may not have seen the database back yet (it tries again every second):
            // bob, too, is told to try again until his line is stored.
            var bobSaw: [String] = []
            for _ in 1...60 where !bobSaw.contains("bob is back") {
                try await bob.say("bob is back", as: "bob")
                while !bobSaw.contains("bob is back") {
                    let frame = try await bob.next(timeout: .seconds(30)) { $0.error != nil || $0.messages != nil }.frame
                    if frame.error != nil {
                        try await Task.sleep(for: .milliseconds(500))
                        break
                    }
                    bobSaw += frame.messages!.map(\.content)
                }
            }
            try await alice.next { $0.messages?.contains { $0.content == "bob is back" } == true }
            #expect(!bobSaw.contains { $0.hasPrefix("during") }, "\(bobSaw)")

            // The audit: what each client saw after the outage is what the database holds,
            // once each, in its order.
            let stored = try await TestDatabase.withClient(location) { client in
                var contents: [String] = []
                for try await content in try await client.query(
                    "SELECT convert_from(content, 'UTF8') FROM message ORDER BY seq", logger: TestDatabase.logger
                ).decode(String.self) {
                    contents.append(content)
                }
                return contents
            }
            #expect(!stored.contains { $0.hasPrefix("during") }, "\(stored)")
            #expect(Set(stored).count == stored.count, "\(stored)")
            #expect(bobSaw == Array(stored.dropFirst()), "\(bobSaw) vs \(stored)")
            #expect(stored.last == "bob is back")
            #expect(stored.filter { $0.hasPrefix("after") } == bobSaw.filter { $0.hasPrefix("after") })
        }
    }

    /// A node is killed under its users: a client given the other nodes moves to one, logs in
    /// again under its own name once the dead node's lease has run out, and sends what was
    /// typed meanwhile. Every line arrives once, in the order the database holds.
    @Test func aKilledNodesClientMovesToAnotherNodeAndLosesOrDoublesNothing() async throws {
        try await withCluster(3, arguments: ["--plaintext"]) { nodes, location in
            let watcher = try await TestClient.connect(host: "127.0.0.1", port: nodes[0].process.port, security: .plaintext)
            #expect(try await watcher.login("watcher").usernameAccepted == true)
            var configuration = ChatEngine.Configuration(
                host: "127.0.0.1", port: nodes[1].process.port, security: .plaintext, initialUsername: "alice",
                reconnect: ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), jitter: 0))
            configuration.servers = [1, 2].map { ServerEndpoint(host: "127.0.0.1", port: nodes[$0].process.port) }
            configuration.echoPatience = TestTiming.scaled(.seconds(10))
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let client = JSONModeClient(configuration)
            let running = Task { try await client.run(input: input) { output.append($0) } }
            defer { running.cancel() }
            try await watcher.next { $0.usersJoined == ["alice"] }

            var seen: [String] = []
            func watch(until content: String) async throws {
                while !seen.contains(content) {
                    seen += try await watcher.nextMessages(timeout: .seconds(60)).filter { $0.source == "alice" }.map(\.content)
                }
            }
            for index in 1...5 { typing.yield("one \(index)") }
            try await watch(until: "one 5")

            nodes[1].process.kill()
            try await output.waitFor(#""event":"disconnected""#)
            for index in 1...5 { typing.yield("two \(index)") }
            try await output.waitFor(#""event":"reconnected""#, timeout: .seconds(60))
            try await watch(until: "two 5")
            typing.finish()
            #expect(try await running.value == .quit, "\(output.all)")

            let expected = (1...5).map { "one \($0)" } + (1...5).map { "two \($0)" }
            #expect(seen == expected, "\(seen)")
            let stored = try await TestDatabase.withClient(location) { client in
                var contents: [String] = []
                for try await content in try await client.query(
                    "SELECT convert_from(content, 'UTF8') FROM message WHERE src_key = 'alice' ORDER BY seq", logger: TestDatabase.logger
                ).decode(String.self) {
                    contents.append(content)
                }
                return contents
            }
            #expect(stored == expected, "\(stored)")
            // The name was waited for on the other node, not given up.
            #expect(output.all.contains { $0.contains(#""server":"127.0.0.1:\#(nodes[2].process.port)""#) && $0.contains("reconnected") })
            #expect(!output.all.contains { $0.contains("username_needed") }, "\(output.all)")
        }
    }

    /// A block made on one node holds on every node, from its place in the log on: broadcasts
    /// are filtered where they are delivered, direct messages refused where they are sent.
    @Test func aBlockOnOneNodeHoldsOnTheOthers() async throws {
        try await withCluster(2) { nodes, _ in
            let alice = try await nodes[0].login("alice")
            let bob = try await nodes[1].login("bob")
            let carol = try await nodes[1].login("carol")
            func command(_ text: String, by client: TestClient, as name: String) async throws -> String {
                try await client.say(text, as: name)
                return try await client.next { $0.messages?.first?.source == "Chatterbox" || $0.error != nil }.frame.messages?.first?.content ?? ""
            }
            /// A broadcast from carol, seen by everyone: every node has applied what came before.
            /// Returns the messages alice received before it.
            @discardableResult
            func sync(_ label: String) async throws -> [String] {
                try await carol.say(label, as: "carol")
                var aliceSaw: [String] = []
                for client in [alice, bob, carol] {
                    let skipped = try await client.next { $0.messages?.first?.content == label }.skipped
                    if client === alice { aliceSaw = skipped.compactMap(\.messages).joined().map(\.content) }
                }
                return aliceSaw
            }
            #expect(try await command("/Block bob", by: alice, as: "alice").contains("You blocked bob"))
            try await sync("after the block")

            try await bob.say("from bob", as: "bob")
            #expect(try await carol.nextMessages().map(\.content) == ["from bob"])
            try await bob.say("psst", as: "bob", to: "alice")
            #expect(try await bob.nextError().contains("not accepting messages"))
            // alice received nothing of bob's before carol's marker, which came after.
            #expect(try await sync("marker").isEmpty)

            #expect(try await command("/UnBlock bob", by: alice, as: "alice").contains("You unblocked bob"))
            try await sync("after the unblock")
            try await bob.say("again", as: "bob")
            #expect(try await alice.next { $0.messages != nil }.frame.messages?.first?.content == "again")
        }
    }

    /// An operator's ban, kick or announcement made through one node (here its admin socket)
    /// takes effect on every node: the users there are disconnected or told, a banned name is
    /// refused there too, and the ban is in the shared store for nodes that start later.
    @Test func aBanAKickAndAnAnnouncementOnOneNodeHoldOnTheOthers() async throws {
        try await withCluster(2) { nodes, _ in
            let bob = try await nodes[1].login("bob")
            let carol = try await nodes[1].login("carol")
            let dave = try await nodes[1].login("dave")
            func admin(_ words: [String]) async throws -> (status: Int32, output: String) {
                try await ServerProcess.runToExit(["admin", "--data-dir", nodes[0].directory] + words)
            }
            // Node 0 learns of the three from the log before it can act on them.
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
            while try await !admin(["who"]).output.contains("dave on server n2") {
                guard ContinuousClock.now < deadline else { throw TestFailure("node 1 never heard of dave") }
                try await Task.sleep(for: .milliseconds(100))
            }

            #expect(try await admin(["announce", "Hello", "everywhere"]).status == 0)
            #expect(try await dave.next { $0.info != nil }.frame.info == "Announcement from the administrator: Hello everywhere")

            #expect(try await admin(["kick", "carol", "calm", "down"]).status == 0)
            let carolSaw = try await carol.waitForClose()
            #expect(carolSaw.compactMap(\.error).contains("You were disconnected by the administrator: calm down"), "\(carolSaw)")

            #expect(try await admin(["ban", "bob", "1h", "spam"]).status == 0)
            let bobSaw = try await bob.waitForClose()
            #expect(bobSaw.compactMap(\.error).contains("You were banned by the administrator for 1 hour. Reason: spam"), "\(bobSaw)")
            let again = try await nodes[1].connect()
            let refused = try await again.login("bob")
            #expect(refused.usernameAccepted == false)
            #expect(refused.info?.hasPrefix("The username bob is banned for another") == true)
        }
    }

    /// With a files directory every node shares, a file sent through one node is listed and
    /// fetched through another (its record travels in the log, its bytes on the shared disk).
    @Test func aFileSentThroughOneNodeIsFetchedThroughAnother() async throws {
        let shared = TemporaryDirectory()
        let outbox = shared.path + "/outbox", downloads = shared.path + "/downloads"
        for directory in [outbox, downloads] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let bytes = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: outbox + "/report.bin"))
        try await withCluster(2, arguments: ["--plaintext", "--files-dir", shared.path + "/files"]) { nodes, _ in
            func start(_ name: String, on node: Node, output: OutputRecorder, input: AsyncStream<String>) -> Task<ChatEngine.Ending, any Error> {
                var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: node.process.port, security: .plaintext, initialUsername: name)
                configuration.downloadDirectory = downloads
                let client = JSONModeClient(configuration)
                return Task { try await client.run(input: input) { output.append($0) } }
            }
            let aliceOutput = OutputRecorder(), bobOutput = OutputRecorder()
            let (aliceInput, aliceTyping) = AsyncStream<String>.makeStream()
            let (bobInput, bobTyping) = AsyncStream<String>.makeStream()
            let alice = start("alice", on: nodes[0], output: aliceOutput, input: aliceInput)
            defer { alice.cancel() }
            let bob = start("bob", on: nodes[1], output: bobOutput, input: bobInput)
            defer { bob.cancel() }
            try await aliceOutput.waitFor(#""event":"welcome""#)
            try await bobOutput.waitFor(#""event":"welcome""#)

            aliceTyping.yield("/Send \(outbox)/report.bin")
            try await aliceOutput.waitFor("Sent report.bin")
            let sent = try #require(aliceOutput.all.first { $0.contains("Sent report.bin") })
            let id = try #require(sent.firstMatch(of: /\b(f[0-9a-f]+)\b/).map { String($0.1) }, "\(sent)")

            // bob fetches it once he has seen it offered (it reaches his node in the log's order).
            try await bobOutput.waitFor("fetch it with /Get \(id)")
            bobTyping.yield("/Get \(id)")
            try await bobOutput.waitFor("Saved report.bin", timeout: .seconds(60))
            #expect(try Data(contentsOf: URL(fileURLWithPath: downloads + "/report.bin")) == bytes)
            aliceTyping.finish()
            bobTyping.finish()
            #expect(try await alice.value == .quit, "\(aliceOutput.all)")
            #expect(try await bob.value == .quit, "\(bobOutput.all)")
        }
    }

    /// Cuts every connection to the database and refuses new ones (what its restart does to
    /// the nodes), or lets them in again.
    static func setDatabase(_ location: PostgresLocation, reachable: Bool) async throws {
        var server = location
        server.database = "postgres"
        try await TestDatabase.withClient(server) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "ALTER DATABASE \(location.database) ALLOW_CONNECTIONS \(reachable)"), logger: TestDatabase.logger)
            if !reachable {
                try await client.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(location.database)", logger: TestDatabase.logger)
            }
        }
    }
}
