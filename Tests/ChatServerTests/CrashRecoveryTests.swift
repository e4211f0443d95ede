import ChatClient
import ChatProtocol
import ChatStoreSQLite
import Foundation
import NIOConcurrencyHelpers
import ChatTestSupport
import Testing

@Suite struct CrashRecoveryTests {
    @Test func everyMessageAnyClientSawSurvivesKillDashNine() async throws {
        let directory = TemporaryDirectory()
        let historyArguments = ["--history-limit", "1000000", "--no-limits"]
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: historyArguments)
        let security = ConnectionSecurity.tls(.certificateAuthorityFile(directory.path + "/ca.crt"))
        let senders = try await withThrowingTaskGroup(of: (Int, TestClient).self) { group in
            for index in 0..<4 {
                group.addTask {
                    let client = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: security)
                    let reply = try await client.login("sender\(index)")
                    guard reply.usernameAccepted == true else { throw TestFailure("login refused") }
                    return (index, client)
                }
            }
            var clients: [(Int, TestClient)] = []
            for try await client in group { clients.append(client) }
            return clients.sorted { $0.0 < $1.0 }
        }
        // Every sender sends batches of ten, each after the echo of its previous one, until the
        // server dies; every client records all it saw.
        let delivered = Counter()
        let seen = try await withThrowingTaskGroup(of: [String].self) { group in
            for (index, client) in senders {
                group.addTask {
                    var contents: [String] = []
                    for batch in 0..<100_000 {
                        let messages = (0..<10).map {
                            ChatMessage(source: "sender\(index)", destination: "ALL", timestamp: Int64(batch), content: "s\(index)-\(batch)-\($0)")
                        }
                        do {
                            try await client.send(messages)
                            let last = messages.last!.content
                            while true {
                                let received = try await client.next(timeout: .seconds(20)).messages?.map(\.content) ?? []
                                contents += received
                                delivered.add(received.count)
                                if received.contains(last) { break }
                            }
                        } catch {
                            break
                        }
                    }
                    return contents
                }
            }
            group.addTask {
                // Kill in the middle of the traffic: once clients have seen 20,000 deliveries.
                let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(60))
                while delivered.value < 20_000, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                server.kill()
                return []
            }
            var seen = Set<String>()
            for try await contents in group { seen.formUnion(contents) }
            return seen
        }
        for (_, client) in senders { await client.close() }
        #expect(seen.count > 1000, "too little traffic before the kill to prove anything: \(seen.count)")

        let restarted = try await ServerProcess.start(dataDirectory: directory.path, arguments: historyArguments)
        let reader = try await TestClient.connect(host: "127.0.0.1", port: restarted.port, security: security)
        let reply = try await reader.login("reader")

        var history = reply.messages ?? []
        // Long histories continue in further MESSAGES frames; a broadcast of our own marks the end.
        try await reader.say("end-marker", as: "reader")
        while true {
            let messages = try await reader.nextMessages()
            if messages.contains(where: { $0.content == "end-marker" }) {
                history += messages.filter { $0.content != "end-marker" }
                break
            }
            history += messages
        }
        let stored = history.map(\.content)

        #expect(Set(stored).count == stored.count, "duplicates in history")
        let missing = seen.subtracting(stored)
        #expect(missing.count == 0, "\(missing.count) of \(seen.count) messages seen before the kill are missing from \(stored.count), e.g. \(missing.sorted().prefix(5))")
        // Messages were still being sent at the kill: some were stored that nobody saw.
        #expect(stored.count >= seen.count)
        // Per sender, history keeps the order each sender sent in.
        for index in 0..<4 {
            let mine = stored.filter { $0.hasPrefix("s\(index)-") }
            let order = mine.map { text -> [Int] in text.split(separator: "-").dropFirst().map { Int($0)! } }
            #expect(order == order.sorted { $0.lexicographicallyPrecedes($1) })
        }
        await reader.close()
        #expect(try await restarted.terminate() == 0)
        // The database itself is sound after the crash.
        let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        #expect(try store.integrityCheck() == ["ok"])
        try store.close()
    }
}

/// A count shared between tasks.
final class Counter: Sendable {
    private let count = NIOLockedValueBox(0)

    func add(_ amount: Int) {
        count.withLockedValue { $0 += amount }
    }

    var value: Int { count.withLockedValue { $0 } }
}
