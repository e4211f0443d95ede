import Foundation
import NIOConcurrencyHelpers

/// The real `chatterbox server` executable, run as a child process.
public final class ServerProcess: Sendable {
    public let process: Process
    public let port: Int
    private let outputText: SharedText

    /// The `chatterbox` executable built next to the test bundle.
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chatterbox")
    }

    /// Runs `chatterbox` with `arguments` to completion (bounded); its exit status and
    /// everything it printed on stdout and stderr.
    public static func runToExit(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = SharedText()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            output.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw TestFailure("chatterbox \(arguments) still running after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        pipe.fileHandleForReading.readabilityHandler = nil
        output.append(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        return (process.terminationStatus, output.value)
    }

    /// Starts `chatterbox server 127.0.0.1 -p 0` with `arguments` and waits (bounded) until it
    /// prints the port it listens on.
    public static func start(dataDirectory: String, port: Int = 0, arguments: [String] = []) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["server", "127.0.0.1", "-p", String(port), "--data-dir", dataDirectory, "--log-level", "error"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = SharedText()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            output.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(30))
        while ContinuousClock.now < deadline {
            let text = output.value
            if let range = text.range(of: "Listening on 127.0.0.1 port ") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits) {
                    return ServerProcess(process: process, port: port, output: output)
                }
            }
            guard process.isRunning else { throw TestFailure("server exited early: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw TestFailure("server did not report its port")
    }

    private init(process: Process, port: Int, output: SharedText) {
        self.process = process
        self.port = port
        self.outputText = output
    }

    deinit {
        // Nothing outlives the test, even one that failed half-way.
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Everything the server printed so far (stdout and stderr).
    public var output: String { outputText.value }

    /// SIGKILL: no chance to flush or close anything.
    public func kill() async throws {
        Foundation.kill(process.processIdentifier, SIGKILL)
        try await waitForExit()
    }

    /// SIGTERM, then the exit status.
    public func terminate() async throws -> Int32 {
        process.terminate()
        try await waitForExit()
        return process.terminationStatus
    }

    /// Waits (bounded, without blocking a thread) for the process to exit.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + TestTiming.scaled(timeout)
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw TestFailure("server process still running after \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Text appended from one thread and read from another.
public final class SharedText: Sendable {
    private let text = NIOLockedValueBox("")

    public init() {}

    public func append(_ more: String) {
        text.withLockedValue { $0 += more }
    }

    public var value: String { text.withLockedValue { $0 } }
}
