import Foundation
import Synchronization

/// The real `chatterbox server` executable, run as a child process.
public final class ServerProcess: Sendable {
    public let pid: pid_t
    public let port: Int
    private let outputPath: String
    /// The exit status once the process has been reaped.
    private let status = Mutex<Int32?>(nil)

    /// The `chatterbox` executable built next to the test bundle.
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chatterbox")
    }

    /// Starts `chatterbox server 127.0.0.1 -p PORT` (port 0: any free port) with `arguments` and
    /// waits (bounded) until it prints the port it listens on. Restarting on the port of a
    /// server that was stopped lets its clients reconnect; a port still held for a moment is
    /// tried again for a few seconds.
    public static func start(dataDirectory: String, port: Int = 0, arguments: [String] = []) async throws -> ServerProcess {
        let deadline = ContinuousClock.now + .seconds(30)
        var bindRetries = 0
        while true {
            let outputPath = ChildProcess.temporaryPath("chatterbox-server-out")
            let pid = try ChildProcess.spawn(
                executable.path,
                ["server", "127.0.0.1", "-p", String(port), "--data-dir", dataDirectory, "--log-level", "error"] + arguments,
                environment: ProcessInfo.processInfo.environment,
                output: outputPath,
                errors: outputPath + ".err"
            )
            while ContinuousClock.now < deadline {
                let text = FileManager.default.contents(atPath: outputPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
                if let range = text.range(of: "Listening on 127.0.0.1 port ") {
                    let digits = text[range.upperBound...].prefix { $0.isNumber }
                    if digits.count < text[range.upperBound...].count, let bound = Int(digits) {
                        try? FileManager.default.removeItem(atPath: outputPath + ".err")
                        return ServerProcess(pid: pid, port: bound, outputPath: outputPath)
                    }
                }
                if let status = ChildProcess.exitStatusIfEnded(pid) {
                    let errors = FileManager.default.contents(atPath: outputPath + ".err").map { String(decoding: $0, as: UTF8.self) } ?? ""
                    try? FileManager.default.removeItem(atPath: outputPath)
                    try? FileManager.default.removeItem(atPath: outputPath + ".err")
                    if errors.contains("Address already in use"), port != 0, bindRetries < 50 {
                        bindRetries += 1
                        try await Task.sleep(for: .milliseconds(100))
                        break
                    }
                    throw TestFailure("server exited early (\(status)): \(text)\(errors)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            if ContinuousClock.now >= deadline {
                Foundation.kill(pid, SIGKILL)
                _ = ChildProcess.wait(pid)
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
        if status.withLock({ $0 }) == nil {
            Foundation.kill(pid, SIGKILL)
            _ = ChildProcess.wait(pid)
        }
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    /// SIGKILL: no chance to flush or close anything.
    public func kill() {
        Foundation.kill(pid, SIGKILL)
        reap()
    }

    /// SIGTERM, then wait for the exit status.
    public func terminate() -> Int32 {
        Foundation.kill(pid, SIGTERM)
        return reap()
    }

    @discardableResult
    private func reap() -> Int32 {
        status.withLock { status in
            if let status { return status }
            let ended = ChildProcess.wait(pid)
            status = ended
            return ended
        }
    }
}
