import ChatProcess
import Foundation
import NIOConcurrencyHelpers

/// The real `chatterbox server` executable, run as a child process.
public final class ServerProcess: Sendable {
    public let pid: pid_t
    public let port: Int
    private let outputPath: String
    /// The exit status once the process has been reaped.
    private let status = NIOLockedValueBox<Int32?>(nil)

    /// The `chatterbox` executable built next to the test bundle.
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chatterbox")
    }

    /// Runs `chatterbox` with `arguments` to completion (bounded); its exit status and
    /// everything it printed on stdout and stderr.
    public static func runToExit(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        try await ChildProcess.runToExit(executable.path, arguments, timeout: timeout)
    }

    /// Starts `chatterbox server 127.0.0.1 -p PORT` (port 0: any free port) with `arguments` and
    /// waits (bounded) until it prints the port it listens on. Restarting on the port of a
    /// server that was stopped lets its clients reconnect; a port still held for a moment is
    /// tried again for a few seconds. `openFileLimit` sets RLIMIT_NOFILE, soft and hard, for
    /// the process (through the shell's `ulimit -n`).
    public static func start(dataDirectory: String, host: String = "127.0.0.1", port: Int = 0, arguments: [String] = [], openFileLimit: Int? = nil) async throws -> ServerProcess {
        // Generous: the whole suite starts many servers at once on two cores.
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(60))
        var bindRetries = 0
        while true {
            let outputPath = ChildProcess.temporaryPath("chatterbox-server-out")
            // stdout and stderr into one file, opened for appending by both.
            var command = [executable.path, "server", host, "-p", String(port), "--data-dir", dataDirectory, "--log-level", "error"] + arguments
            if let openFileLimit {
                // The shell sets the limit and becomes the server (same process id).
                command = ["/bin/sh", "-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\""] + command
            }
            let pid = try ChildProcess.spawn(
                command[0],
                Array(command.dropFirst()),
                environment: ProcessInfo.processInfo.environment,
                output: outputPath,
                errors: outputPath
            )
            while ContinuousClock.now < deadline {
                let text = ChildProcess.contents(of: outputPath)
                if let listening = text.range(of: "Listening on "), let range = text[listening.upperBound...].range(of: " port ") {
                    let digits = text[range.upperBound...].prefix { $0.isNumber }
                    if digits.count < text[range.upperBound...].count, let bound = Int(digits) {
                        return ServerProcess(pid: pid, port: bound, outputPath: outputPath)
                    }
                }
                if let status = ChildProcess.exitStatusIfEnded(pid) {
                    try? FileManager.default.removeItem(atPath: outputPath)
                    if text.contains("Address already in use"), port != 0, bindRetries < 50 {
                        bindRetries += 1
                        try await Task.sleep(for: .milliseconds(100))
                        break
                    }
                    throw TestFailure("server exited early (\(status)): \(text)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            if ContinuousClock.now >= deadline {
                Foundation.kill(pid, SIGKILL)
                _ = ChildProcess.wait(pid)
                try? FileManager.default.removeItem(atPath: outputPath)
                throw TestFailure("server did not report its port")
            }
        }
    }

    private init(pid: pid_t, port: Int, outputPath: String) {
        self.pid = pid
        self.port = port
        self.outputPath = outputPath
    }

    deinit {
        // Nothing outlives the test, even one that failed half-way.
        if status.withLockedValue({ $0 }) == nil {
            Foundation.kill(pid, SIGKILL)
            _ = ChildProcess.wait(pid)
        }
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    /// Everything the server printed so far (stdout and stderr).
    public var output: String { ChildProcess.contents(of: outputPath) }

    /// The process's CPU time so far (user and system), and its resident memory now and at
    /// its peak, from /proc.
    public var usage: ProcessStats? { ProcessStats.read(pid: pid) }

    /// Descriptors the process has open now.
    public var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    /// SIGKILL: no chance to flush or close anything. Reaps the process (a killed process
    /// ends at once), so it can be called from a `defer`.
    public func kill() {
        Foundation.kill(pid, SIGKILL)
        status.withLockedValue { status in
            if status == nil { status = ChildProcess.wait(pid) }
        }
    }

    /// SIGTERM, then the exit status.
    public func terminate() async throws -> Int32 {
        Foundation.kill(pid, SIGTERM)
        return try await waitForExit()
    }

    /// Waits (bounded, without blocking a thread) for the process to exit; its exit status.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while true {
            let ended: Int32? = status.withLockedValue { status in
                if status == nil { status = ChildProcess.exitStatusIfEnded(pid) }
                return status
            }
            if let ended { return ended }
            guard ContinuousClock.now < deadline else { throw TestFailure("server process still running after \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
