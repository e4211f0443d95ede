import ChatProcess
import Foundation
import Testing

/// Child processes started with `posix_spawn`: exit statuses, output routing, signals, and
/// nothing of this process inherited beyond the standard three descriptors.
@Suite struct SpawnTests {
    private func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("spawn-\(UUID().uuidString)").path
    }

    @Test func theExitStatusAndOutputComeBack() throws {
        let output = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let pid = try Spawn.start("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], output: .file(output), errors: .output)
        #expect(SpawnedProcess(pid: pid).waitUntilExit() == 3)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "out\nerr\n")
    }

    @Test func aTerminatedChildEndsWithItsSignal() throws {
        // The child must not inherit a blocked SIGTERM from the spawning thread.
        let process = SpawnedProcess(pid: try Spawn.start("/bin/sleep", ["60"]))
        #expect(process.isRunning)
        process.terminate()
        #expect(process.waitUntilExit() == 128 + SIGTERM)
        #expect(!process.isRunning)
    }

    @Test func theChildInheritsOnlyTheStandardDescriptors() throws {
        let output = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: output) }
        // A descriptor of this process that a careless spawn would pass on.
        let held = open("/dev/null", O_RDONLY)
        defer { close(held) }
        #expect(held > 2)
        let pid = try Spawn.start("/bin/ls", ["/proc/self/fd"], output: .file(output))
        #expect(Spawn.wait(pid) == 0)
        // ls's own descriptor for the directory it lists comes and goes; the rest must be 0-2.
        let listed = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(!listed.contains(held))
        #expect(listed.filter { $0 > 2 }.count <= 1)
    }

    @Test func aMissingProgramIsAClearError() {
        #expect(throws: SpawnError.self) { try Spawn.start("/nonexistent/program", []) }
    }
}
