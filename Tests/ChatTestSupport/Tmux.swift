import Foundation
import NIOConcurrencyHelpers

/// A private tmux server for end-to-end tests of the full-screen client: sessions run real
/// programs in real (virtual) terminals, `type` and `press` send keys, and `waitForScreen`
/// polls `capture-pane` until the screen shows what a test expects, within a deadline.
///
/// Use ``with(_:)``: the tmux server and everything running in it are killed afterwards, also
/// when the test fails.
public final class Tmux: Sendable {
    /// The socket name (`tmux -L`); unique because each server has a directory of its own.
    public let socket: String
    private let executable: URL
    /// Where the socket lives (`TMUX_TMPDIR`), removed with the server.
    private let socketDirectory: String
    /// The tmux server's process once a session started: killed directly when `kill-server`
    /// cannot reach it (its socket already gone), so that no program outlives the test.
    private let serverPID = NIOLockedValueBox<pid_t?>(nil)

    /// Runs `body` with a fresh tmux server, then kills it. Throws (the test fails) when tmux
    /// is not installed: CI installs it.
    public static func with<Result>(_ body: (Tmux) async throws -> Result) async throws -> Result {
        let tmux = try Tmux()
        return try await withTeardown { try await body(tmux) } teardown: { tmux.killServer() }
    }

    private init() throws {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
            + ["/usr/bin", "/usr/local/bin"]
        guard let path = candidates.map({ $0 + "/tmux" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestFailure("tmux is not installed; the terminal client's end-to-end tests need it (.ci/run installs it)")
        }
        executable = URL(fileURLWithPath: path)
        socket = "chatterbox-test"
        socketDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("chatterbox-tmux-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Runs `tmux -L socket ARGUMENTS` and returns its standard output.
    @discardableResult
    public func run(_ arguments: [String]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["LANG"] = "C.UTF-8"
        environment["LC_ALL"] = "C.UTF-8"
        environment.removeValue(forKey: "TMUX")
        environment["TMUX_TMPDIR"] = socketDirectory
        let result = try ShortCommand.run(executable.path, ["-u", "-L", socket, "-f", "/dev/null"] + arguments, environment: environment)
        guard result.status == 0 else {
            throw TestFailure("tmux \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.errors)")
        }
        return result.output
    }

    /// Starts a session of `width` × `height` running `command` with a UTF-8 locale and
    /// `TERM=tmux-256color`. The pane stays after the program exits, so its last words can
    /// be read.
    public func startSession(_ name: String, width: Int = 100, height: Int = 30, command: [String]) throws {
        let shellCommand = (["env", "TERM=tmux-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"] + command).map(Self.quote).joined(separator: " ")
        try run(["new-session", "-d", "-s", name, "-x", String(width), "-y", String(height), shellCommand])
        try run(["set-option", "-t", name, "remain-on-exit", "on"])
        if serverPID.withLockedValue({ $0 }) == nil {
            let pid = pid_t(try display(name, "#{pid}").trimmingCharacters(in: .whitespacesAndNewlines))
            serverPID.withLockedValue { $0 = pid }
        }
    }

    /// Types `text` literally.
    public func type(_ target: String, _ text: String) throws {
        try run(["send-keys", "-t", target, "-l", text])
    }

    /// Presses keys by tmux name: "Enter", "Tab", "PageUp", "C-a", "M-b", "F2", "Left".
    public func press(_ target: String, _ keys: String...) throws {
        try run(["send-keys", "-t", target] + keys)
    }

    /// Pastes `text` as a terminal paste (bracketed when the program asked for it).
    public func paste(_ target: String, _ text: String) throws {
        let buffer = "test-paste"
        try run(["set-buffer", "-b", buffer, text])
        try run(["paste-buffer", "-p", "-d", "-b", buffer, "-t", target])
    }

    /// The visible screen, one line per row; with `escapes`, colours and attributes as SGR
    /// escape sequences.
    public func capture(_ target: String, escapes: Bool = false) throws -> String {
        try run(["capture-pane", "-p"] + (escapes ? ["-e"] : []) + ["-t", target])
    }

    /// The screen as a list of rows (trailing spaces kept out by tmux).
    public func rows(_ target: String) throws -> [String] {
        try capture(target).components(separatedBy: "\n").dropLast().map { String($0) }
    }

    /// Resizes the session's window.
    public func resize(_ target: String, width: Int, height: Int) throws {
        try run(["resize-window", "-t", target, "-x", String(width), "-y", String(height)])
    }

    /// A tmux format for the target, e.g. `#{pane_title}`.
    public func display(_ target: String, _ format: String) throws -> String {
        try run(["display-message", "-p", "-t", target, format]).trimmingCharacters(in: .newlines)
    }

    /// Polls the screen until `condition` holds; returns that screen. Fails with the last
    /// screen seen after `timeout`.
    @discardableResult
    public func waitForScreen(
        _ target: String,
        escapes: Bool = false,
        timeout: Duration = .seconds(20),
        _ what: String,
        until condition: (String) -> Bool
    ) async throws -> String {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        var screen = ""
        while ContinuousClock.now < deadline {
            screen = try capture(target, escapes: escapes)
            if condition(screen) { return screen }
            try await Task.sleep(for: .milliseconds(40))
        }
        throw TestFailure("\(target)'s screen never showed \(what); last screen:\n\(screen)")
    }

    /// Waits until the screen contains `text`.
    @discardableResult
    public func waitFor(_ target: String, _ text: String, timeout: Duration = .seconds(20)) async throws -> String {
        try await waitForScreen(target, timeout: timeout, "\"\(text)\"") { $0.contains(text) }
    }

    /// Kills the tmux server and every program in it.
    public func killServer() {
        let reached = (try? run(["kill-server"])) != nil
        if !reached, let pid = serverPID.withLockedValue({ $0 }),
            (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.hasPrefix("tmux") == true
        {
            kill(pid, SIGTERM)  // tmux hangs up on the programs in its panes as it goes
        }
        try? FileManager.default.removeItem(atPath: socketDirectory)
    }

    private static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
