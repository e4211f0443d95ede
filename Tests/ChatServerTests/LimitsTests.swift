import ChatClient
import ChatProtocol
@testable import ChatServer
import ChatTestSupport
import Foundation
import NIOCore
import Testing

/// Slow, greedy and flooding peers: each limit holds and the other users carry on.
@Suite struct LimitsTests {
    @Test func connectionThatNeverLogsInIsClosed() async throws {
        try await TestServer.with(configure: { $0.limits.loginTimeout = .milliseconds(300) }) { server in
            let idle = try await server.connect()
            let frames = try await idle.waitForClose()
            #expect(frames.contains { $0.error?.contains("Login timed out") == true })
        }
    }

    @Test func connectionThatNeverFinishesTheTLSHandshakeIsClosed() async throws {
        try await TestServer.with(configure: { $0.limits.handshakeTimeout = .milliseconds(300) }) { server in
            // A TCP connection that says nothing: no ClientHello ever comes.
            let silent = try RawSocket(port: server.port)
            let (bytes, closed) = await silent.readUntilClosed(timeout: .seconds(10))
            #expect(closed)
            #expect(bytes.isEmpty)
        }
    }

    @Test func connectionsPerAddressAreCapped() async throws {
        try await TestServer.with(configure: {
            $0.limits.connectionsPerAddress = 3
            $0.limits.connectionLimitExemptions = []
        }) { server in
            var clients: [TestClient] = []
            for index in 0..<3 { clients.append(try await server.login("user\(index)")) }
            let refused = try await server.connect()
            let frames = try await refused.waitForClose()
            #expect(frames.map(\.error) == ["Connection refused: there are already 3 connections from 127.0.0.1. Try again later."])
            // A slot frees up once a connection closes (the server notices asynchronously).
            await clients.removeFirst().close()
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(10))
            var admitted: TestClient?
            while admitted == nil, ContinuousClock.now < deadline {
                admitted = try? await server.connect()
                if admitted == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(try await admitted?.login("late").usernameAccepted == true)
        }
    }

    @Test func loopbackIsExemptFromTheLimitPerAddressByDefault() async throws {
        try await TestServer.with(configure: {
            $0.limits.connectionsPerAddress = 3
            $0.limits.connections = 10
        }) { server in
            var clients: [TestClient] = []
            for index in 0..<6 { clients.append(try await server.login("user\(index)")) }
            #expect(clients.count == 6)
            // The total still holds.
            for index in 6..<10 { clients.append(try await server.login("user\(index)")) }
            let refused = try await server.connect()
            #expect(try await refused.waitForClose().map(\.error) == ["Connection refused: the server is full (10 connections). Try again later."])
        }
    }

    @Test func exemptNetworksAndPrefixesDecideWhatCountsAsOneAddress() async throws {
        try await TestServer.with(configure: {
            $0.limits.connectionsPerAddress = 2
            $0.limits.connectionLimitExemptions = [IPNetwork("127.0.0.9")!]
            $0.limits.ipv4ConnectionPrefixLength = 24
        }) { server in
            // 127.0.0.1 and 127.0.0.2 share 127.0.0.0/24.
            _ = try await server.login("a", from: "127.0.0.1")
            _ = try await server.login("b", from: "127.0.0.2")
            let refused = try await server.connect(from: "127.0.0.3")
            #expect(try await refused.waitForClose().map(\.error) == ["Connection refused: there are already 2 connections from 127.0.0.0/24. Try again later."])
            // The exempt address is not counted.
            for index in 0..<4 { _ = try await server.login("exempt\(index)", from: "127.0.0.9") }
        }
    }

    @Test func theLimiterCountsIPv6ByItsSlash64() {
        let limiter = ConnectionLimiter(perAddress: 2, total: 0)
        #expect(limiter.admit("2001:db8:1:2::1") == nil)
        #expect(limiter.admit("2001:db8:1:2:ffff::9") == nil)
        #expect(limiter.admit("2001:db8:1:2::77") == "there are already 2 connections from 2001:db8:1:2::/64")
        #expect(limiter.admit("2001:db8:1:3::1") == nil)
        #expect(limiter.admit("::1") == nil && limiter.admit("::1") == nil && limiter.admit("::1") == nil)
        #expect(limiter.admit("192.0.2.1") == nil && limiter.admit("192.0.2.1") == nil)
        #expect(limiter.admit("::ffff:192.0.2.1") == "there are already 2 connections from 192.0.2.1")
        limiter.release("2001:db8:1:2::1")
        #expect(limiter.admit("2001:db8:1:2::abc") == nil)
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("10.0.0.0/33") == nil && IPNetwork("nonsense") == nil)
        #expect(IPNetwork("2001:db8::/32")?.contains(IPNetwork.bytes(ofAddress: "2001:db8:ffff::1")!) == true)
    }

    @Test func messagesOverTheRateAreRefusedWithAnErrorAndOthersAreUnaffected() async throws {
        try await TestServer.with(configure: {
            $0.limits.messagesPerSecond = 1
            $0.limits.messageBurst = 5
        }) { server in
            let flooder = try await server.login("flooder")
            let calm = try await server.login("calm")
            try await flooder.send((0..<20).map { ChatMessage(source: "flooder", destination: "ALL", timestamp: Int64($0), content: "flood \($0)") })
            let error = try await flooder.nextError()
            #expect(error.contains("Slow down: 15 messages were not sent"))
            var received: [String] = []
            while received.count < 5 { received += try await calm.nextMessages().map(\.content) }
            #expect(received == (0..<5).map { "flood \($0)" })
            // calm has its own budget.
            try await calm.say("still here", as: "calm")
            #expect(try await calm.nextMessages().map(\.content) == ["still here"])
        }
    }

    @Test func aMillionTinyInvalidFramesEndInADisconnectWhileOthersChatOn() async throws {
        try await TestServer.with(configure: {
            $0.limits.errorsPerSecond = 1
            $0.limits.errorBurst = 10
        }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let attacker = try await server.connect()
            // Each frame: length 2, then "{}".
            let flood = ByteBuffer(string: String(repeating: "\u{0}\u{0}\u{0}\u{2}{}", count: 1_000_000))
            let sending = Task { try? await attacker.sendRaw(flood) }
            let frames = try await attacker.waitForClose(timeout: .seconds(30))
            sending.cancel()
            #expect(frames.last?.error == "Disconnected: too many invalid frames.")
            #expect(frames.count <= 11)
            try await alice.say("unaffected", as: "alice")
            #expect(try await bob.nextMessages().map(\.content) == ["unaffected"])
        }
    }

    @Test func floodOfValidFramesIsPacedNotBuffered() async throws {
        try await TestServer.with(configure: {
            $0.limits.framesPerSecond = 50
            $0.limits.frameBurst = 10
        }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            let flooder = try await server.login("flooder")
            // Each frame: length 15, then {"MESSAGES":[]} (valid, and does nothing).
            let flood = ByteBuffer(string: String(repeating: "\u{0}\u{0}\u{0}\u{F}{\"MESSAGES\":[]}", count: 200_000))
            let sending = Task { try? await flooder.sendRaw(flood) }
            // While the flood waits in the flooder's own TCP window, others chat normally.
            for round in 0..<5 {
                try await alice.say("round \(round)", as: "alice")
                #expect(try await bob.nextMessages().map(\.content) == ["round \(round)"])
            }
            sending.cancel()
        }
    }

    @Test func clientThatStopsReadingIsDisconnectedAndOthersGetEverything() async throws {
        try await TestServer.with(tls: false, configure: { $0.outboundQueueLimit = 256 * 1024 }) { server in
            let slow = try RawSocket(port: server.port)
            slow.send(Frame(username: "slow"))
            let talker = try await server.login("talker")
            let listener = try await server.login("listener")
            // slow never reads. The talker sends 20 MB of broadcasts, a batch at a time once the
            // listener has the previous one, so only slow falls behind (the kernel's socket
            // buffers hold a few MB before the server's own queue grows).
            let text = String(repeating: "x", count: 4000)
            var sawSlowLeave = false
            for batch in 0..<500 {
                try await talker.send((0..<10).map { ChatMessage(source: "talker", destination: "ALL", timestamp: Int64(batch * 10 + $0), content: text) })
                var received = 0
                while received < 10 {
                    let frame = try await listener.next(timeout: .seconds(30))
                    received += frame.messages?.count ?? 0
                    if frame.usersLeft == ["slow"] { sawSlowLeave = true }
                }
                #expect(received == 10)
                if sawSlowLeave { break }
            }
            #expect(sawSlowLeave, "the client that stopped reading was never disconnected")
        }
    }
}

@Suite struct CPUAffinityTests {
    @Test func countsCPUListsTheWayTheKernelWritesThem() {
        #expect(ServerConfiguration.cpuCount(inList: "0") == 1)
        #expect(ServerConfiguration.cpuCount(inList: "0-3") == 4)
        #expect(ServerConfiguration.cpuCount(inList: "0-3,6,8-9") == 7)
        #expect(ServerConfiguration.cpuCount(inList: "\t0-1") == 2)
        #expect(ServerConfiguration.cpuCount(inList: "x") == nil)
        #expect(ServerConfiguration.usableCores >= 1)
    }
}
