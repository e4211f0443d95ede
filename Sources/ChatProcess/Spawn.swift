public import Foundation

/// Starts programs with `posix_spawn` and reaps them with `waitpid`: the benchmark's servers,
/// the C load generator and its `make`, and the tests' child processes.
///
/// Not `Foundation.Process`: on Linux its `run()` copies each `/proc/self/fd` entry's whole
/// 256-byte name and crashes now and then when an entry ends a page (swift-corelibs-foundation
/// #5472, fixed after Swift 6.3.1; it crashed our CI once), its `waitUntilExit()` can miss a
/// child that ends within moments, and several watched at once from parallel tests crashed
/// inside libdispatch. Children start with no signal blocked or ignored (the spawning thread, a
/// Swift concurrency worker, blocks most, and a child would inherit that mask and ignore
/// SIGTERM) and inherit no file descriptors beyond the standard three.
///
/// Not swiftlang/swift-subprocess either (1.0.2 is mirrored here): it does avoid
/// Foundation.Process, but its children live inside the scope of a `run { execution in … }`
/// closure and are reaped by its own monitor, while the tests keep a server process across
/// many steps, poll it with `waitpid(WNOHANG)` and kill and reap it synchronously from a
/// `deinit`; it would also add swift-system and tools 6.2 to the build for about 150 lines.
public enum Spawn {
    /// Where a child's standard output or error goes.
    public enum Destination: Sendable {
        /// /dev/null.
        case discard
        /// A file, created or truncated.
        case file(String)
        /// A descriptor of this process (the write end of a pipe, or 2 for this process's stderr).
        case descriptor(Int32)
        /// The same as its standard output (for standard error only).
        case output
    }

    /// Spawns `path` with `arguments`, in `directory` if given; standard input is /dev/null.
    /// - Returns: the child's process identifier.
    public static func start(
        _ path: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String? = nil, output: Destination = .discard, errors: Destination = .discard
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        route(output, to: 1, &actions)
        route(errors, to: 2, &actions)
        // Nothing else of this process: an inherited listening socket of an in-process server
        // would keep its port taken after that server stopped.
        closeInheritedDescriptors(&actions)
        if let directory {
            guard let changeDirectory = symbol("posix_spawn_file_actions_addchdir_np", as: AddChangeDirectory.self) else {
                throw SpawnError("cannot start \(path) in \(directory): this C library cannot change a spawned program's directory")
            }
            _ = changeDirectory(&actions, directory)
        }

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
        guard spawned == 0 else { throw SpawnError("cannot run \(path): \(String(cString: strerror(spawned)))") }
        return pid
    }

    /// Waits for `pid` to end and returns its exit status (128 + signal when killed).
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return exitStatus(status)
    }

    /// The exit status of `pid` if it has ended (reaping it), `nil` while it runs.
    public static func exitStatusIfEnded(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? exitStatus(status) : nil
    }

    /// WIFEXITED / WEXITSTATUS / WTERMSIG, which are macros.
    private static func exitStatus(_ status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    private static func route(_ destination: Destination, to target: Int32, _ actions: inout posix_spawn_file_actions_t) {
        switch destination {
        case .discard: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        case .descriptor(let descriptor): posix_spawn_file_actions_adddup2(&actions, descriptor, target)
        // One description for both, so neither overwrites the other.
        case .output: posix_spawn_file_actions_adddup2(&actions, 1, target)
        }
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// A glibc function Swift does not import (both are there since 2.29 / 2.34).
    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np`; without it every open descriptor is
    /// marked close-on-exec instead.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let closeFrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self), closeFrom(&actions, 3) == 0 { return }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in descriptors.compactMap({ Int32($0) }) where descriptor >= 3 {
            _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
        }
    }
}
