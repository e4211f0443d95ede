import Foundation
import Synchronization

/// The real `chatterbox server` executable, run as a child process.
public final class ServerProcess: Sendable {
    public let process: Process
    public let port: Int
    private let output: SharedText

    /// The `chatterbox` executable built next to the test bundle.
    public static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("chatterbox")
    }

    /// Starts `chatterbox server 127.0.0.1 -p PORT` (port 0: any free port) with `arguments` and
    /// waits (bounded) until it prints the port it listens on. Restarting on the port of a
    /// server that was stopped lets its clients reconnect.
    public static func start(dataDirectory: String, port: Int = 0, arguments: [String] = []) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["server", "127.0.0.1", "-p", String(port), "--data-dir", dataDirectory, "--log-level", "error"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let output = SharedText()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            output.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
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
        self.output = output
    }

    deinit {
        // Nothing outlives the test, even one that failed half-way.
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// SIGKILL: no chance to flush or close anything.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then wait for the exit status.
    public func terminate() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Text appended from one thread and read from another.
public final class SharedText: Sendable {
    private let text = Mutex("")

    public func append(_ more: String) {
        text.withLock { $0 += more }
    }

    public var value: String { text.withLock { $0 } }
}
