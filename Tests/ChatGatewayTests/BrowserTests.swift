import ChatTestSupport
import Foundation
import Testing

/// The web client in a real browser: runs Tests/Browser/web_client_test.py (headless Debian
/// Chromium through selenium) against the real `chatterbox` executable. It fails, rather than
/// skips, where chromium, chromedriver or selenium are missing: `scripts/install-dependencies.sh
/// --tests` (which the README's test command runs) installs them.
@Suite("Web client in a browser")
struct BrowserTests {
    /// The Debian Python, which has python3-selenium (a pyenv or venv python may not).
    static let python = "/usr/bin/python3"

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Browser/web_client_test.py").path
    }

    @Test("Chat, direct messages, blocks, files, history, search, reconnect and XSS in headless Chromium", .timeLimit(.minutes(10)))
    func webClientInChromium() async throws {
        for tool in [Self.python, "/usr/bin/chromium", "/usr/bin/chromedriver"] {
            #expect(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: run scripts/install-dependencies.sh --tests")
        }
        let probe = try await ChildProcess.runToExit(Self.python, ["-c", "import selenium"])
        try #require(probe.status == 0, "python3-selenium is missing: run scripts/install-dependencies.sh --tests\n\(probe.output)")
        var arguments = [Self.script, "--binary", ServerProcess.executable.path]
        // CHATTERBOX_SCREENSHOTS=docs refreshes the README's pictures of the page.
        if let directory = ProcessInfo.processInfo.environment["CHATTERBOX_SCREENSHOTS"] { arguments += ["--screenshots", directory] }
        var environment = ProcessInfo.processInfo.environment
        // Each wait of the script: generous, as the whole suite runs beside it on two cores.
        environment["CHATTERBOX_BROWSER_WAIT"] = String(30 * TestTiming.scale)
        environment["CHATTERBOX_BROWSER_TIMEOUT"] = String(480 * TestTiming.scale)
        let run = try await ChildProcess.runToExit(Self.python, arguments, environment: environment, timeout: .seconds(540))
        #expect(run.status == 0, "the browser test failed:\n\(run.output)")
        #expect(run.output.contains(" passed, 0 failed"), "\(run.output)")
    }
}
