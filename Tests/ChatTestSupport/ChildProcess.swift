import Foundation

/// Starts programs for tests with `posix_spawn` and reaps them with `waitpid`.
///
/// Not `Foundation.Process`: its `waitUntilExit()` can miss the exit of a child that ends
/// within moments (seen with `tmux new-session -d`, which forks its server and exits) and wait
/// forever, and with several processes watched at once from parallel tests it crashed inside
/// libdispatch. Children start with no signal blocked or ignored: the spawning thread (a
/// Swift concurrency worker) blocks most signals, and a child would inherit that mask — a tmux
/// server would then ignore kill-server's SIGTERM, and a chat server SIGTERM. Children inherit
/// no file descriptors beyond the standard three.
public enum ChildProcess {
    /// Spawns `path` with `arguments`; standard input is /dev/null, standard output and error
    /// go to the given files (or /dev/null).
    static func spawn(_ path: String, _ arguments: [String], environment: [String: String], output: String?, errors: String?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if let errors, errors == output {
            // One description for both, so neither overwrites the other.
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, errors ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        // Nothing else of the test process: an inherited listening socket of an in-process test
        // server would keep its port taken after that server stopped.
        closeInheritedDescriptors(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw TestFailure("cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift does not import;
    /// elsewhere every open descriptor is marked close-on-exec instead.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in descriptors.compactMap({ Int32($0) }) where descriptor >= 3 {
            _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
        }
    }

    /// Waits for `pid` to end and returns its exit status (128 + signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return exitStatus(status)
    }

    /// The exit status of `pid` if it has ended (reaping it), `nil` while it runs.
    static func exitStatusIfEnded(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid ? exitStatus(status) : nil
    }

    /// WIFEXITED / WEXITSTATUS / WTERMSIG, which are macros.
    private static func exitStatus(_ status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Runs `path` with `arguments` to completion, waiting without blocking a thread and at most
    /// `timeout` (scaled); its exit status and what it printed on stdout and stderr.
    public static func runToExit(_ path: String, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (status: Int32, output: String) {
        let outputPath = temporaryPath("command-out")
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try spawn(path, arguments, environment: ProcessInfo.processInfo.environment, output: outputPath, errors: outputPath)
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
