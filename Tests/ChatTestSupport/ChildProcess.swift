import ChatProcess
import Foundation

/// Child processes for tests, started with ChatProcess's ``Spawn`` (posix_spawn and waitpid,
/// not Foundation.Process: see there why).
public enum ChildProcess {
    /// Spawns `path` with `arguments`; standard input is /dev/null, standard output and error
    /// go to the given files (or /dev/null).
    static func spawn(_ path: String, _ arguments: [String], environment: [String: String], output: String?, errors: String?) throws -> pid_t {
        try Spawn.start(
            path, arguments, environment: environment,
            output: output.map { .file($0) } ?? .discard,
            errors: errors.map { $0 == output ? .output : .file($0) } ?? .discard
        )
    }

    /// Waits for `pid` to end and returns its exit status (128 + signal when killed).
    static func wait(_ pid: pid_t) -> Int32 { Spawn.wait(pid) }

    /// The exit status of `pid` if it has ended (reaping it), `nil` while it runs.
    static func exitStatusIfEnded(_ pid: pid_t) -> Int32? { Spawn.exitStatusIfEnded(pid) }

    /// Runs `path` with `arguments` to completion, waiting without blocking a thread and at most
    /// `timeout` (scaled); its exit status and what it printed on stdout and stderr.
    /// `environment` defaults to this process's.
    public static func runToExit(_ path: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let outputPath = temporaryPath("command-out")
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try spawn(path, arguments, environment: environment ?? ProcessInfo.processInfo.environment, output: outputPath, errors: outputPath)
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            if let status = exitStatusIfEnded(pid) { return (status, contents(of: outputPath)) }
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                _ = wait(pid)
                throw TestFailure("\(path) \(arguments) still running after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// What a child wrote to the file at `path` so far.
    static func contents(of path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// A file name for a child's output, removed by the caller.
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    }
}
