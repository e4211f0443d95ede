import ChatProtocol
import ChatTLS
import ChatTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChatClient

/// Several servers (nodes of one chat): the client tries each address of each, moves on to the
/// next when the one in use goes away, logs in again there, and says where it is.
@Suite struct FailoverTests {
    static let quickReconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), jitter: 0)

    // MARK: - The order of a round

    @Test func aFirstRoundGoesThroughTheServersInOrder() throws {
        let round = FailoverRound(serverCount: 3, after: nil)
        #expect(round.visits == [0, 1, 2])
        let addresses = try Self.addresses(2)
        #expect(round.addresses(ofVisit: 0, addresses) == addresses)
    }

    @Test func afterALossTheRoundStartsAfterTheAddressLastUsedAndComesBackToItLast() throws {
        let addresses = try Self.addresses(3)
        // Connected to server 0's second address: its third, then servers 1 and 2, then its
        // first and (last of all) the one that just failed.
        let round = FailoverRound(serverCount: 3, after: ServerCandidate(server: 0, address: addresses[1]))
        #expect(round.visits == [0, 1, 2, 0])
        #expect(round.addresses(ofVisit: 0, addresses) == [addresses[2]])
        #expect(round.addresses(ofVisit: 1, addresses) == addresses)
        #expect(round.addresses(ofVisit: 2, addresses) == addresses)
        #expect(round.addresses(ofVisit: 3, addresses) == [addresses[0], addresses[1]])
        // Server 2 was last: round robin goes on with server 0.
        #expect(FailoverRound(serverCount: 3, after: ServerCandidate(server: 2, address: addresses[0])).visits == [2, 0, 1, 2])
        // One server with several addresses: its next address, then the others, the failed one last.
        let single = FailoverRound(serverCount: 1, after: ServerCandidate(server: 0, address: addresses[0]))
        #expect(single.visits == [0, 0])
        #expect(single.addresses(ofVisit: 0, addresses) + single.addresses(ofVisit: 1, addresses) == [addresses[1], addresses[2], addresses[0]])
        // The address last used is gone from the name's answer: every address, once.
        let gone = FailoverRound(serverCount: 2, after: ServerCandidate(server: 0, address: try SocketAddress(ipAddress: "192.0.2.99", port: 9000)))
        #expect(gone.addresses(ofVisit: 0, addresses) == addresses)
        #expect(gone.addresses(ofVisit: 2, addresses) == [])
    }

    private static func addresses(_ count: Int) throws -> [SocketAddress] {
        try (1...count).map { try SocketAddress(ipAddress: "192.0.2.\($0)", port: 9000) }
    }

    // MARK: - --server

    @Test func serverArgumentsAreReadWithOrWithoutAPortAndIPv6InBrackets() throws {
        #expect(try ServerEndpoint.parse("chat.example.org", defaultPort: 9000) == ServerEndpoint(host: "chat.example.org", port: 9000))
        #expect(try ServerEndpoint.parse("chat.example.org:9001", defaultPort: 9000) == ServerEndpoint(host: "chat.example.org", port: 9001))
        #expect(try ServerEndpoint.parse("192.0.2.7:9002", defaultPort: 9000) == ServerEndpoint(host: "192.0.2.7", port: 9002))
        #expect(try ServerEndpoint.parse("[::1]:9003", defaultPort: 9000) == ServerEndpoint(host: "::1", port: 9003))
        #expect(try ServerEndpoint.parse("[::1]", defaultPort: 9000) == ServerEndpoint(host: "::1", port: 9000))
        #expect(try ServerEndpoint.parse("2001:db8::7", defaultPort: 9000) == ServerEndpoint(host: "2001:db8::7", port: 9000))
        #expect(ServerEndpoint(host: "::1", port: 9003).description == "[::1]:9003")
        #expect(ServerEndpoint(host: "[::1]", port: 9003).host == "::1")
        for bad in ["", ":9000", "host:", "host:70000", "host:x", "[::1", "[::1]9000"] {
            #expect(throws: ServerEndpoint.ParseError.self, "\(bad)") { try ServerEndpoint.parse(bad, defaultPort: 9000) }
        }
    }

    @Test func theCommandLineTakesServersAndSaysWhatIsWrongWithOne() async throws {
        let (noServer, noServerOutput) = try await ServerProcess.runToExit(["client"])
        #expect(noServer != 0)
        #expect(noServerOutput.contains("Give the server: chatterbox client HOST [-p PORT], or --server HOST[:PORT]"), "\(noServerOutput)")
        let (badPort, badPortOutput) = try await ServerProcess.runToExit(["client", "--server", "a.example:99999"])
        #expect(badPort != 0)
        #expect(badPortOutput.contains("'a.example:99999': the port must be a number 1...65535"), "\(badPortOutput)")
        let (bracket, bracketOutput) = try await ServerProcess.runToExit(["client", "localhost", "--server", "[::1:9000"])
        #expect(bracket != 0)
        #expect(bracketOutput.contains("needs its closing ']'"), "\(bracketOutput)")
    }

    // MARK: - Moving between servers

    /// Runs `body` with `count` servers, each with a data directory (and CA) of its own, and a
    /// security that trusts all of them (one PEM file holding each CA, as `-ca` takes).
    private func withServers<Result>(_ count: Int, _ body: ([TestServer], ConnectionSecurity) async throws -> Result) async throws -> Result {
        let directory = TemporaryDirectory()
        var servers: [TestServer] = []
        return try await withTeardown {
            for index in 0..<count {
                servers.append(try await TestServer.start(dataDirectory: directory.path + "/node\(index)"))
            }
            let bundle = try Self.caBundle(servers.compactMap(\.caPath), at: directory.path + "/cluster-ca.crt")
            return try await body(servers, .tls(.certificateAuthorityFile(bundle)))
        } teardown: {
            for server in servers { await server.stop() }
        }
    }

    static func caBundle(_ paths: [String], at path: String) throws -> String {
        let pem = try paths.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined()
        try Data(pem.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func startEngine(
        _ servers: [ServerEndpoint], security: ConnectionSecurity, name: String, recorder: UpdateRecorder,
        input: AsyncStream<String>, configure: (inout ChatEngine.Configuration) -> Void = { _ in }
    ) -> Task<ChatEngine.Ending, any Error> {
        var configuration = ChatEngine.Configuration(host: "", port: 0, security: security, initialUsername: name, reconnect: Self.quickReconnect)
        configuration.servers = servers
        configure(&configuration)
        let engine = ChatEngine(configuration)
        return Task { try await engine.run(input: input) { recorder.append($0) } }
    }

    private static func endpoint(_ server: TestServer, host: String = "127.0.0.1") -> ServerEndpoint {
        ServerEndpoint(host: host, port: server.port)
    }

    @Test func whenItsServerStopsTheClientMovesToTheNextLogsInAgainAndChatsThere() async throws {
        try await withServers(3) { servers, security in
            let (a, b, c) = (servers[0], servers[1], servers[2])
            let (atA, atB, atC) = (Self.endpoint(a), Self.endpoint(b), Self.endpoint(c))
            let readerB = try await b.login("readerB")
            let readerC = try await c.login("readerC")
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = startEngine(servers.map { Self.endpoint($0) }, security: security, name: "alice", recorder: recorder, input: input)
            defer { running.cancel() }
            try await recorder.waitFor("the login on the first server") { $0.isOnline(at: atA) }

            await a.stop()
            let back = try await recorder.waitFor("being back, on the second server") { $0.backOnlineServer == atB }
            #expect(ConnectionEventText.describe(try #require(back.connectionEvent), host: "", port: 0) == "Back online as alice on 127.0.0.1 port \(b.port).")
            try await recorder.waitFor("the status naming the second server") { $0.isOnline(at: atB) }
            #expect(recorder.all.contains { $0 == .connection(.reconnecting(attempt: 1, server: atB)) })
            #expect(recorder.all.contains(.connection(.connected(server: atB, address: "127.0.0.1:\(b.port)", security: .verifiedTLS))))
            typing.yield("hello from the second server")
            let heard = try await readerB.next { $0.messages?.contains { $0.content == "hello from the second server" } == true }
            #expect(heard.frame.messages?.first?.source == "alice")

            // Round robin: the third next, not the first (which is down) again.
            await b.stop()
            try await recorder.waitFor("being back, on the third server") { $0.backOnlineServer == atC }
            try await recorder.waitFor("the status naming the third server") { $0.isOnline(at: atC) }
            typing.yield("hello from the third server")
            _ = try await readerC.next { $0.messages?.contains { $0.content == "hello from the third server" && $0.source == "alice" } == true }
            // Each move went straight to the next live server: none skipped, no round failed.
            #expect(recorder.all.contains(.connection(.reconnecting(attempt: 1, server: atC))))
            #expect(!recorder.all.contains { $0.isFailedRound || $0.isSkip }, "\(recorder.all)")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func deadHungAndUnknownServersAreSkippedInBoundedTimeWithoutBackoff() async throws {
        try await withServers(2) { servers, security in
            let (a, b) = (servers[0], servers[1])
            let silent = try SilentListener()
            let refusing = try RestartablePort.pick()
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let list = [
                Self.endpoint(a),
                ServerEndpoint(host: "127.0.0.1", port: silent.port),
                ServerEndpoint(host: "127.0.0.1", port: refusing),
                ServerEndpoint(host: "no-such-host.invalid", port: 9000),
                Self.endpoint(b),
            ]
            // Long enough that a live server on a loaded machine is never taken for a hung one;
            // the hung one still costs just this, once.
            let running = startEngine(list, security: security, name: "alice", recorder: recorder, input: input) {
                $0.connectTimeout = TestTiming.scaled(.seconds(5))
            }
            defer { running.cancel() }
            try await recorder.waitFor("the login on the first server") { $0.isOnline(at: Self.endpoint(a)) }

            await a.stop()
            try await recorder.waitFor("being back, on the last server", timeout: .seconds(60)) { $0.backOnlineServer == Self.endpoint(b) }
            let skips = recorder.all.compactMap { update -> (ServerEndpoint, String, ServerEndpoint?)? in
                if case .connection(.serverSkipped(let server, _, let reason, let next)) = update { return (server, reason, next) }
                return nil
            }
            try #require(skips.count == 3, "\(skips)")
            #expect(skips[0].0 == list[1] && skips[0].2 == list[2])
            #expect(skips[0].1.contains("the server accepted the connection but did not answer the TLS handshake within"), "\(skips[0].1)")
            #expect(skips[1].0 == list[2] && skips[1].2 == list[3])
            #expect(skips[1].1 == "Connection refused", "\(skips[1].1)")
            #expect(skips[2].0 == list[3] && skips[2].2 == list[4])
            #expect(skips[2].1.hasPrefix("Cannot resolve 'no-such-host.invalid'"), "\(skips[2].1)")
            // One round, no backoff inside it.
            #expect(!recorder.all.contains { $0.isFailedRound })
            #expect(recorder.all.filter { if case .connection(.reconnecting) = $0 { return true } else { return false } }
                == [.connection(.reconnecting(attempt: 1, server: list[1]))])
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func aRoundThatReachesNobodyIsSaidInShortThenTheBackoffBegins() async throws {
        try await withServers(1) { servers, security in
            let a = servers[0]
            let refusing = try RestartablePort.pick()
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let list = [Self.endpoint(a), ServerEndpoint(host: "127.0.0.1", port: refusing)]
            let running = startEngine(list, security: security, name: "alice", recorder: recorder, input: input)
            defer { running.cancel() }
            try await recorder.waitFor("the login") { $0.isOnline(at: list[0]) }
            await a.stop()
            let failed = try await recorder.waitFor("the round failing") { $0.isFailedRound }
            // The refused one was said as it was skipped; the round's line says it in short.
            #expect(recorder.all.contains(.connection(.serverSkipped(server: list[1], address: "127.0.0.1:\(refusing)", reason: "Connection refused", next: list[0]))))
            guard case .connection(.attemptFailed(let reason, _)) = failed else { return }
            #expect(reason == "none of the 2 servers answered (the last: Cannot connect to 127.0.0.1 port \(a.port): Connection refused)")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func aServerThatTakesTheConnectionButNeverAnswersTheLoginIsSkipped() async throws {
        try await PlainSpecServer.with { live in
            let silent = try SilentListener()
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let list = [ServerEndpoint(host: "127.0.0.1", port: silent.port), ServerEndpoint(host: "127.0.0.1", port: live.port)]
            let timeout = TestTiming.scaled(.seconds(1))
            let running = startEngine(list, security: .plaintext, name: "alice", recorder: recorder, input: input) { $0.connectTimeout = timeout }
            defer { running.cancel() }
            try await recorder.waitFor("the login on the server that answers") { $0.isOnline(at: list[1]) }
            let reason = "The server did not answer the login within \(ConnectionEventText.seconds(timeout))."
            #expect(recorder.all.contains(.connection(.serverSkipped(server: list[0], address: "127.0.0.1:\(silent.port)", reason: reason, next: nil))), "\(recorder.all)")
            // Extensions were not blamed: the login on the live server still offered them.
            #expect(live.loginFrames.withLockedValue { $0 }.last?.features != nil)
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func aNodeThatRefusesTheLoginAndHangsUpIsLeftForTheNextUnderTheSameName() async throws {
        try await PlainSpecServer.with(quirks: .refusesLoginsAndCloses) { stopping in
            try await PlainSpecServer.with { live in
                let recorder = UpdateRecorder()
                let (input, typing) = AsyncStream<String>.makeStream()
                let list = [ServerEndpoint(host: "127.0.0.1", port: stopping.port), ServerEndpoint(host: "127.0.0.1", port: live.port)]
                let running = startEngine(list, security: .plaintext, name: "alice", recorder: recorder, input: input)
                defer { running.cancel() }
                try await recorder.waitFor("the login as alice on the next server") {
                    if case .status(let status) = $0 { return status.isOnline && status.server == list[1] && status.username == "alice" }
                    return false
                }
                typing.yield("/quit")
                #expect(try await running.value == .quit)
            }
        }
    }

    @Test func theCertificateIsCheckedAgainstTheNameOfEachServer() async throws {
        let directory = TemporaryDirectory()
        // A server whose certificate names localhost only, not 127.0.0.1.
        let named = try LocalCertificateAuthority.loadOrCreate(in: directory.path + "/localhost-only", hostNames: ["localhost"])
        try await TestServer.with(configure: { configuration in
            configuration.tls = try! TLSContexts.server(certificateChainPath: named.server.certificatePath, privateKeyPath: named.server.privateKeyPath)
        }) { server in
            let recorder = UpdateRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let list = [ServerEndpoint(host: "127.0.0.1", port: server.port), ServerEndpoint(host: "localhost", port: server.port)]
            let running = startEngine(list, security: .tls(.certificateAuthorityFile(named.caCertificatePath)), name: "alice", recorder: recorder, input: input)
            defer { running.cancel() }
            try await recorder.waitFor("the login under the name the certificate has") { $0.isOnline(at: list[1]) }
            let skipped = recorder.all.first {
                if case .connection(.serverSkipped(list[0], _, let reason, _)) = $0 { return reason.contains("does not name 127.0.0.1") }
                return false
            }
            #expect(skipped != nil, "\(recorder.all)")
            typing.yield("/quit")
            #expect(try await running.value == .quit)
        }
    }

    @Test func theFirstConnectionFailsOnlyWhenNoServerAnswersAndSaysWhyForEach() async throws {
        let refusing = try RestartablePort.pick()
        var configuration = ChatEngine.Configuration(host: "127.0.0.1", port: refusing, security: .plaintext, initialUsername: "x", reconnect: .standard)
        configuration.servers.append(ServerEndpoint(host: "no-such-host.invalid", port: 9000))
        configuration.connectTimeout = TestTiming.scaled(.seconds(2))
        let (input, _) = AsyncStream<String>.makeStream()
        do {
            _ = try await ChatEngine(configuration).run(input: input) { _ in }
            Issue.record("connected to nothing")
        } catch let error as ConnectionError {
            #expect(error.description.hasPrefix("Cannot connect to 127.0.0.1 port \(refusing): Connection refused; Cannot resolve 'no-such-host.invalid'"), "\(error)")
        }
    }

    @Test func aHistoryReplayedByAnotherNodeShowsOnlyWhatWasMissed() async throws {
        try await PlainSpecServer.with { a in
            try await PlainSpecServer.with { b in
                let recorder = UpdateRecorder()
                let (input, typing) = AsyncStream<String>.makeStream()
                let list = [ServerEndpoint(host: "127.0.0.1", port: a.port), ServerEndpoint(host: "127.0.0.1", port: b.port)]
                // Without extensions: a plain server closing soon after a login that offered them
                // would be taken for one choking on them (another test's subject).
                let running = startEngine(list, security: .plaintext, name: "alice", recorder: recorder, input: input) { $0.offersExtensions = false }
                defer { running.cancel() }
                try await recorder.waitFor("the login") { $0.isOnline(at: list[0]) }
                let bob = try await TestClient.connect(host: "127.0.0.1", port: a.port, security: .plaintext)
                _ = try await bob.login("bob")
                try await bob.say("one", as: "bob")
                try await bob.say("two", as: "bob")
                try await recorder.waitFor("both messages") { $0.messageContent == "two" }
                await bob.close()

                // The other node of the same chat has them too, and one more sent meanwhile.
                let said = ["one", "two", "three"].map { ChatMessage(source: "bob", destination: "ALL", timestamp: 1_700_000_000, content: $0) }
                b.addHistory(said)
                await a.stop()
                let back = try await recorder.waitFor("being back on the other node") {
                    if case .connection(.backOnline) = $0 { return true }
                    return false
                }
                #expect(back == .connection(.backOnline(username: "alice", missedMessages: 1, sentLines: 0, server: list[1])))
                let shown = recorder.all.flatMap { update -> [String] in
                    if case .event(.history(let messages)) = update { return messages.map(\.content) }
                    return update.messageContent.map { [$0] } ?? []
                }
                #expect(shown == ["one", "two", "three"], "\(shown)")
                typing.yield("/quit")
                #expect(try await running.value == .quit)
            }
        }
    }

    // MARK: - Line and JSON modes

    @Test func jsonModeSaysWhichServerWasLostAndWhichItMovedTo() async throws {
        try await withServers(2) { servers, security in
            let (a, b) = (servers[0], servers[1])
            var configuration = ChatEngine.Configuration(host: "", port: 0, security: security, initialUsername: "bot", reconnect: Self.quickReconnect)
            configuration.servers = servers.map { Self.endpoint($0) }
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = Task { try await JSONModeClient(configuration).run(input: input) { output.append($0) } }
            defer { running.cancel() }
            try await output.waitFor(#"{"event":"connected","server":"127.0.0.1:\#(a.port)","address":"127.0.0.1:\#(a.port)","security":"tls","#)
            try await output.waitFor(#"{"event":"welcome""#)
            await a.stop()
            try await output.waitFor(#"{"event":"disconnected","server":"127.0.0.1:\#(a.port)","reason":"#)
            try await output.waitFor(#"{"event":"reconnecting","attempt":1,"server":"127.0.0.1:\#(b.port)","#)
            try await output.waitFor(#"{"event":"connected","server":"127.0.0.1:\#(b.port)","#)
            try await output.waitFor(#"{"event":"reconnected","user":"bot","server":"127.0.0.1:\#(b.port)","missed":0,"sending":0,"#)
            typing.finish()
            #expect(try await running.value == .quit)
        }
    }

    @Test func lineModeSaysWhichServerItMovedTo() async throws {
        try await withServers(2) { servers, security in
            let (a, b) = (servers[0], servers[1])
            var configuration = ChatEngine.Configuration(host: "", port: 0, security: security, initialUsername: "carol", reconnect: Self.quickReconnect)
            configuration.servers = servers.map { Self.endpoint($0) }
            let output = OutputRecorder()
            let (input, typing) = AsyncStream<String>.makeStream()
            let running = Task { try await LineModeClient(configuration).run(input: input) { output.append($0) } }
            defer { running.cancel() }
            try await output.waitFor("-!- Connected to 127.0.0.1 port \(a.port) (TLS, certificate verified).")
            try await output.waitFor("-!- Welcome to Chatterbox, carol!")
            await a.stop()
            try await output.waitFor("-!- 127.0.0.1 port \(a.port) closed the connection. Reconnecting in")
            try await output.waitFor("-!- Connected to 127.0.0.1 port \(b.port) (TLS, certificate verified).")
            try await output.waitFor("-!- Back online as carol on 127.0.0.1 port \(b.port).")
            typing.finish()
            #expect(try await running.value == .quit)
        }
    }
}

/// A listener that never accepts: the kernel completes TCP connections to it, and nothing ever
/// answers on them (a hung node, or another service that waits for the client to speak).
private final class SilentListener {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else {
            close(descriptor)
            throw TestFailure("cannot listen: \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}

extension ClientUpdate {
    /// Logged in, with the status naming `server`.
    fileprivate func isOnline(at server: ServerEndpoint) -> Bool {
        if case .status(let status) = self { return status.isOnline && status.server == server }
        return false
    }

    /// A whole round of attempts failed (and a backoff began).
    fileprivate var isFailedRound: Bool {
        if case .connection(.attemptFailed) = self { return true }
        return false
    }

    fileprivate var isSkip: Bool {
        if case .connection(.serverSkipped) = self { return true }
        return false
    }

    /// The server of a `backOnline` as alice.
    fileprivate var backOnlineServer: ServerEndpoint? {
        if case .connection(.backOnline(let name, _, _, let server)) = self, name == "alice" { return server }
        return nil
    }

    fileprivate var connectionEvent: ConnectionEvent? {
        if case .connection(let event) = self { return event }
        return nil
    }

    fileprivate var messageContent: String? {
        if case .event(.message(let message)) = self { return message.content }
        return nil
    }
}
