import ChatBench
import ChatTLS
import ChatTestSupport
import Foundation
import Testing

/// A small run of `chatterbox bench`'s machinery against the real executable: every message is
/// delivered to every client and none is lost. Timings are not checked here (see
/// docs/PERFORMANCE.md for the figures).
@Suite struct BenchSmokeTests {
    private func settings(_ directory: String) throws -> BenchSettings {
        _ = try LocalCertificateAuthority.loadOrCreate(in: directory)
        var settings = BenchSettings(chatterboxExecutable: ServerProcess.executable.path, certificates: directory)
        settings.launch = .chatterbox
        return settings
    }

    @Test func fanOutDeliversEverythingOverTLS() async throws {
        let directory = TemporaryDirectory()
        let report = try await BenchScenarios.fanout(try settings(directory.path), clients: 20, senders: 4, rate: 200, seconds: 1)
        #expect(report.lost == 0)
        #expect(report.messagesSent > 0)
        #expect(report.deliveries == report.messagesSent * 20)
        #expect(report.serverCPUSeconds != nil && report.serverRSSBytes != nil)
    }

    @Test func loginStormGetsEveryClientIn() async throws {
        let directory = TemporaryDirectory()
        let report = try await BenchScenarios.loginStorm(try settings(directory.path), clients: 50, history: 100)
        #expect(report.clients == 50)
        #expect(report.loginLatencyMilliseconds.max > 0)
    }
}
