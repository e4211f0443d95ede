import ChatClient
import ChatProtocol
import ChatTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 21 (3): with the usual open-file limit and `--max-connections` 50,000, about a
/// thousand connections used every descriptor; logins and file writes failed and `accept4`
/// spun on EMFILE at 80% of a core, with nothing logged. Both tests run the real executable,
/// whose open-file limit they set.
@Suite struct DescriptorLimitTests {
    /// A server limited to 200 descriptors admits only what leaves a reserve free: full, it
    /// refuses politely, its logged-in users chat and store files, and it admits again when
    /// connections close.
    @Test func aLowOpenFileLimitLowersMaxConnectionsAndKeepsAReserve() async throws {
        let directory = TemporaryDirectory()
        let limit = 200
        let server = try await ServerProcess.start(
            dataDirectory: directory.path,
            arguments: ["--plaintext", "--log-level", "notice", "--max-connections-per-address", "0"],
            openFileLimit: limit)
        defer { server.kill() }
        let announced = try #require(
            server.output.firstMatch(of: /Connections limited to (\d+) \(--max-connections: 50000\): the open-file limit is 200/),
            "no log line about the lowered limit: \(server.output)")
        let connections = try #require(Int(announced.1))
        // 64 for the store and files, 64 for refusals waiting to be told, 8 for listeners.
        #expect(connections > 10 && connections <= limit - 136)

        let alice = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
        #expect(try await alice.login("alice", features: ["files"]).usernameAccepted == true)
        let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
        #expect(try await bob.login("bob").usernameAccepted == true)
        // Every other place taken (each login answered, so each was admitted before the next
        // connection: the loops admit connections in parallel).
        var fill: [TestClient] = []
        for index in 0..<(connections - 2) {
            let client = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await client.login("fill\(index)").usernameAccepted == true)
            fill.append(client)
        }
        let refused = try RawSocket(port: server.port)
        let answer = await refused.readUntilClosed()
        #expect(answer.closed, "\(server.output)")
        #expect(String(decoding: answer.bytes, as: UTF8.self).contains("the server is full (\(connections) connections)"))
        #expect(server.openDescriptors <= limit - 64, "the reserve for the store and files is used up")

        // Full, the server still stores a file and delivers a message (both need descriptors).
        let data = Array("a file written while the server is full".utf8)
        let offer = FileTransfer.Offer(name: "full.txt", size: Int64(data.count), sha256: FileTransferTests.sha256(data), to: "bob")
        try await alice.send(Self.request(FileTransfer.Key.offer, offer.jsonValue))
        let started = try await Self.uploadStatus(of: alice)
        try await alice.send(Self.request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: started.id, offset: 0, bytes: data).jsonValue))
        #expect(try await Self.uploadStatus(of: alice).done)
        try await alice.say("still here", as: "alice", to: "bob")
        let received = try await bob.next { ($0.messages ?? []).contains { $0.content == "still here" } }.frame
        #expect(received.messages?.last?.source == "alice")

        // Places free up as connections close.
        for client in fill.suffix(5) { await client.close() }
        let carol = try await Self.eventually {
            let client = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            guard try await client.login("carol").usernameAccepted == true else { throw TestFailure("carol refused") }
            return client
        }
        await carol.close()
        for client in fill.dropLast(5) + [alice, bob] { await client.close() }
        #expect(try await server.terminate() == 0)
    }

    /// With every descriptor in use (the limit lowered under a running server), accepting
    /// pauses instead of spinning, says so, keeps serving the users it has, and takes the next
    /// connection as soon as a descriptor frees.
    @Test func runningOutOfDescriptorsPausesAcceptingWithoutSpinning() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--log-level", "notice"])
        defer { server.kill() }
        let security = ConnectionSecurity.tls(.certificateAuthorityFile(directory.path + "/ca.crt"))
        let alice = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: security)
        #expect(try await alice.login("alice").usernameAccepted == true)
        let bob = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: security)
        #expect(try await bob.login("bob").usernameAccepted == true)

        // From now on the server can open no new descriptor: the lowest free number is the limit.
        try await Self.setOpenFileLimit(of: server.pid, to: Self.lowestFreeDescriptor(of: server.pid))
        let carol = Task {
            let client = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: security)
            let reply = try await client.login("carol")
            return (client, reply)
        }
        defer { carol.cancel() }
        try await Self.waitFor("Accepting connections paused", in: server)
        #expect(server.output.contains("Too many open files"))

        // Not spinning: a retry every 250 ms costs next to nothing (spinning took most of a core).
        let before = try #require(server.usage).cpuSeconds
        try await Task.sleep(for: .seconds(2))
        let cpu = try #require(server.usage).cpuSeconds - before
        #expect(cpu < 0.3, "the server used \(cpu) s of CPU in 2 s while it could not accept")

        // The users it has are served meanwhile.
        try await alice.say("during the pause", as: "alice", to: "bob")
        _ = try await bob.next { ($0.messages ?? []).contains { $0.content == "during the pause" } }

        // A descriptor frees: carol's waiting connection is taken and she logs in.
        await bob.close()
        let (client, reply) = try await carol.value
        #expect(reply.usernameAccepted == true)
        try await Self.waitFor("Accepting connections again", in: server)
        await client.close()
        await alice.close()
        #expect(try await server.terminate() == 0)
    }

    // MARK: - Helpers

    static func request(_ key: String, _ value: JSONValue) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        return frame
    }

    static func uploadStatus(of client: TestClient) async throws -> FileTransfer.UploadStatus {
        let frame = try await client.next { $0.extensionValue(FileTransfer.Key.upload) != nil || $0.error != nil }.frame
        if let error = frame.error { throw TestFailure("ERROR: \(error)") }
        return try #require(frame.extensionValue(FileTransfer.Key.upload).flatMap(FileTransfer.UploadStatus.init))
    }

    /// Runs `attempt` until it succeeds, for at most 10 s (scaled).
    static func eventually<Value>(_ attempt: () async throws -> Value) async throws -> Value {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
        while true {
            do {
                return try await attempt()
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Waits (bounded) until the server's output contains `text`.
    static func waitFor(_ text: String, in server: ServerProcess) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
        while !server.output.contains(text) {
            guard ContinuousClock.now < deadline else { throw TestFailure("the server never logged \"\(text)\": \(server.output)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The lowest descriptor number `pid` has free: the next one it would open.
    static func lowestFreeDescriptor(of pid: pid_t) throws -> Int {
        let open = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) })
        return (0...).first { !open.contains($0) }!
    }

    /// Sets the soft RLIMIT_NOFILE of the running process `pid` (its hard limit unchanged).
    static func setOpenFileLimit(of pid: pid_t, to soft: Int) async throws {
        // util-linux's prlimit(1): Swift's Glibc module does not declare prlimit(2).
        let result = try await ChildProcess.runToExit("/usr/bin/prlimit", ["--pid", String(pid), "--nofile=\(soft):"])
        guard result.status == 0 else { throw TestFailure("prlimit failed (\(result.status)): \(result.output)") }
    }
}
