import AsyncHTTPClient
import ChatTestSupport
import Foundation
import Testing

/// `chatterbox server --http-port`: the real executable, probed as an operator would with curl.
@Suite struct ServerCommandHTTPTests {
    @Test func runningServerAnswersProbesAndMetricsThenStopsOnSIGTERM() async throws {
        let directory = TemporaryDirectory()
        let server = try await ServerProcess.start(dataDirectory: directory.path, arguments: ["--http-port", "0"])
        defer { server.kill() }
        let port = try await Self.httpPort(of: server)
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: OperatorsFixture.clientConfiguration(caPath: directory.path + "/ca.crt"))
        do {
            let base = "https://127.0.0.1:\(port)"
            let answer1 = try await OperatorsFixture.get(base + "/health", client: client)
            #expect(answer1 == HTTPAnswer(200, "ok\n"))
            let answer2 = try await OperatorsFixture.get(base + "/ready", client: client)
            #expect(answer2 == HTTPAnswer(200, "ready\n"))
            let answer = try await OperatorsFixture.get(base + "/metrics", client: client)
            #expect(answer.status == 200)
            let samples = PrometheusText.samples(answer.body)
            #expect(samples.keys.contains { $0.hasPrefix("chatterbox_build_info{version=") })
            #expect(samples["chatterbox_logins_total"] == 0)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        #expect(try await server.terminate() == 0)
    }

    @Test func httpsNeedsACertificate() async throws {
        let directory = TemporaryDirectory()
        let (status, output) = try await ServerProcess.runToExit(
            ["server", "127.0.0.1", "-p", "0", "--data-dir", directory.path, "--plaintext", "--http-port", "0"])
        #expect(status != 0)
        #expect(output.contains("with --plaintext, add --http-plaintext"))
    }

    /// The port the server announced for its HTTP listener (bounded wait).
    static func httpPort(of server: ServerProcess) async throws -> Int {
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(60))
        while ContinuousClock.now < deadline {
            let output = server.output
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Operators' HTTP listener on ") }),
               let range = line.range(of: " port ") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits) { return port }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("the server did not announce its HTTP listener: \(server.output)")
    }
}
