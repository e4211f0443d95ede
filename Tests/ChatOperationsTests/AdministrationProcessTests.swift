import ChatProtocol
import ChatServer
import ChatStoreSQLite
import ChatTestSupport
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The real executable as an operator runs it: `chatterbox admin` against `chatterbox server`,
/// bans across a restart, the message of the day, SIGHUP re-reading the configuration file, and
/// SIGTERM under traffic.
@Suite struct AdministrationProcessTests {
    private func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private func admin(_ words: [String], dataDirectory: String) async throws -> (status: Int32, output: String) {
        try await ServerProcess.runToExit(["admin", "--data-dir", dataDirectory] + words)
    }

    private func client(_ server: ServerProcess, directory: String) async throws -> TestClient {
        try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .tls(.certificateAuthorityFile(directory + "/ca.crt")))
    }

    /// Waits (bounded) until the server's output contains `text`.
    private func waitForOutput(_ text: String, of server: ServerProcess) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while !server.output.contains(text) {
            guard ContinuousClock.now < deadline else { throw TestFailure("no \"\(text)\" in the server's output: \(server.output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func chatterboxAdminKicksBansAndAnnouncesAndTheBanOutlivesARestart() async throws {
        let directory = TemporaryDirectory()
        let config = directory.path + "/chatterbox.yaml"
        try write("operators: [root]\nmotd: \"Welcome. Be kind.\"\n", to: config)
        var server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--config", config])
        defer { server.kill() }
        let socket = directory.path + "/admin.sock"
        let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)

        let bob = try await client(server, directory: directory.path)
        #expect(try await bob.login("bob").usernameAccepted == true)
        #expect(try await bob.next().info == "Welcome. Be kind.")
        let carol = try await client(server, directory: directory.path)
        #expect(try await carol.login("carol").usernameAccepted == true)
        #expect(try await carol.next().info == "Welcome. Be kind.")

        let who = try await admin(["who"], dataDirectory: directory.path)
        #expect(who.status == 0 && who.output.contains("bob from 127.0.0.1") && who.output.contains("carol from 127.0.0.1"), "\(who)")
        let stats = try await admin(["stats"], dataDirectory: directory.path)
        #expect(stats.status == 0 && stats.output.contains("Users online: 2") && stats.output.contains("Operators: root"), "\(stats)")

        let announce = try await admin(["announce", "Back", "in", "five"], dataDirectory: directory.path)
        #expect(announce.status == 0 && announce.output.contains("Announced to 2 users online."))
        #expect(try await carol.next { $0.info != nil }.frame.info == "Announcement from the administrator: Back in five")

        let kick = try await admin(["kick", "carol", "take", "a", "break"], dataDirectory: directory.path)
        #expect(kick.status == 0, "\(kick)")
        #expect(try await carol.waitForClose().compactMap(\.error).contains("You were disconnected by the administrator: take a break"))
        _ = try await bob.next { $0.usersLeft == ["carol"] }

        let ban = try await admin(["ban", "bob", "3d", "spam"], dataDirectory: directory.path)
        #expect(ban.status == 0 && ban.output.contains("Banned bob for 3 days. Disconnected: bob."), "\(ban)")
        #expect(try await bob.waitForClose().compactMap(\.error).contains("You were banned by the administrator for 3 days. Reason: spam"))
        let refused = try await admin(["kick", "nobody"], dataDirectory: directory.path)
        #expect(refused.status != 0 && refused.output.contains("nobody is not online."))

        #expect(try await server.terminate() == 0)
        server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--config", config])
        let again = try await client(server, directory: directory.path)
        let answer = try await again.login("bob")
        #expect(answer.usernameAccepted == false)
        #expect(answer.info?.hasPrefix("The username bob is banned for another 3 days") == true, "\(answer)")
        let unban = try await admin(["unban", "bob"], dataDirectory: directory.path)
        #expect(unban.status == 0)
        #expect(try await again.login("bob").usernameAccepted == true)
        await again.close()
        await bob.close()
        await carol.close()
        #expect(try await server.terminate() == 0)
        let stopped = try await admin(["who"], dataDirectory: directory.path)
        #expect(stopped.status != 0 && stopped.output.contains("cannot connect"), "\(stopped)")
    }

    @Test func operatorActionsAreLoggedWithWhoDidThem() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--log-level", "notice"])
        defer { server.kill() }
        #expect(try await admin(["ban", "203.0.113.0/24", "1h", "abuse"], dataDirectory: directory.path).status == 0)
        try await waitForOutput("the admin socket (uid \(getuid()), pid ", of: server)
        try await waitForOutput("banned 203.0.113.0/24 for 1 hour: abuse", of: server)
        #expect(try await server.terminate() == 0)
    }

    @Test func sighupReloadsTheConfigurationFileAndNamesWhatNeedsARestart() async throws {
        let directory = TemporaryDirectory()
        let config = directory.path + "/chatterbox.yaml"
        let motd = directory.path + "/motd.txt"
        try write("first\n", to: motd)
        try write("message-rate: 100\nmessage-burst: 100\nmotd-file: \(motd)\nhistory-limit: 100\n", to: config)
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--config", config, "--log-level", "notice"])
        defer { server.kill() }
        let alice = try await client(server, directory: directory.path)
        #expect(try await alice.login("alice").usernameAccepted == true)
        #expect(try await alice.next().info == "first")

        // Slow enough that no token comes back during the test, however slow the machine.
        try write("message-rate: 0.1\nmessage-burst: 1\nmotd-file: \(motd)\nhistory-limit: 50\nlog-level: debug\n", to: config)
        // The file of the message of the day is read again, though its name did not change.
        try write("second\n", to: motd)
        kill(server.pid, SIGHUP)
        try await waitForOutput("SIGHUP: configuration reloaded", of: server)
        #expect(server.output.contains("applied: motd, message rate"), "\(server.output)")
        #expect(server.output.contains("need a restart to take effect: history-limit"), "\(server.output)")
        #expect(!server.output.contains("log level (debug)"), "the command line's --log-level wins over the file")

        // The new rate applies to alice, online since before: one of three goes through.
        try await alice.send((0..<3).map { ChatMessage(source: "alice", destination: "ALL", timestamp: 1, content: "m\($0)") })
        #expect(try await alice.nextError().hasPrefix("Slow down: 2 messages were not sent (at most 0.1 per second, bursts of 1)"))
        let late = try await client(server, directory: directory.path)
        #expect(try await late.login("latecomer").usernameAccepted == true)
        #expect(try await late.next { $0.info != nil }.frame.info == "second")

        // A configuration that no longer parses changes nothing, and says so.
        try write("message-rate: lots\n", to: config)
        kill(server.pid, SIGHUP)
        try await waitForOutput("the configuration was not reloaded, the running settings stay", of: server)
        await alice.close()
        await late.close()
        #expect(try await server.terminate() == 0)
    }

    @Test func sigtermUnderTrafficLosesNothingThatWasEchoed() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--message-rate", "0"])
        defer { server.kill() }
        let echoed = NIOLockedValueBox<[String]>([])
        var talkers: [Task<Void, Never>] = []
        var clients: [TestClient] = []
        for index in 0..<4 {
            let client = try await client(server, directory: directory.path)
            #expect(try await client.login("talker\(index)").usernameAccepted == true)
            clients.append(client)
            // Each talker sends batches without pause and records its own messages as the
            // server echoes them (stored), until the server says goodbye.
            talkers.append(Task {
                for batch in 0..<1_000_000 {
                    let messages = (0..<5).map { ChatMessage(source: "talker\(index)", destination: "ALL", timestamp: 1, content: "t\(index)-b\(batch)-\($0)") }
                    do {
                        try await client.send(messages)
                        while true {
                            let frame = try await client.next(timeout: .seconds(20))
                            let own = (frame.messages ?? []).filter { $0.source == "talker\(index)" }.map(\.content)
                            echoed.withLockedValue { $0 += own }
                            if own.contains(messages.last!.content) { break }
                            if frame.info?.contains("shutting down") == true { return }
                        }
                    } catch {
                        return
                    }
                }
            })
        }
        // Traffic is flowing: some hundreds of messages echoed, then SIGTERM.
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while echoed.withLockedValue({ $0.count }) < 400, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let status = try await server.terminate()
        #expect(status == 0, "exit status \(status): \(server.output)")
        for talker in talkers { await talker.value }
        for client in clients { await client.close() }

        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        let stored = Set(try store.recentBroadcasts(limit: 10_000_000).map(\.message.content))
        try store.close()
        let accepted = echoed.withLockedValue { $0 }
        #expect(accepted.count >= 400)
        let missing = accepted.filter { !stored.contains($0) }
        #expect(missing.isEmpty, "\(missing.count) echoed messages missing after the stop, e.g. \(missing.prefix(5))")
    }
}
