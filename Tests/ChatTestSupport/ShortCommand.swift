import Foundation

/// Runs a short command to completion and collects what it printed. Output goes to files
/// rather than pipes, because a daemon the command starts (the tmux server) would inherit a
/// pipe and keep it open.
enum ShortCommand {
    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    static func run(_ path: String, _ arguments: [String], environment: [String: String]) throws -> Result {
        let outputPath = ChildProcess.temporaryPath("command-out")
        let errorPath = ChildProcess.temporaryPath("command-err")
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        let pid = try ChildProcess.spawn(path, arguments, environment: environment, output: outputPath, errors: errorPath)
        let status = ChildProcess.wait(pid)
        let output = FileManager.default.contents(atPath: outputPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let errors = FileManager.default.contents(atPath: errorPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return Result(status: status, output: output, errors: errors)
    }
}
