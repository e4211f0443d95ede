public import Foundation
import NIOConcurrencyHelpers

/// A program started with ``Spawn``, watched from any thread: whether it still runs, its exit
/// status once it has ended, and a way to stop it.
public final class SpawnedProcess: Sendable {
    /// The child's process identifier.
    public let pid: pid_t
    private let ended = NIOLockedValueBox<Int32?>(nil)

    /// Watches the child `pid`, started by ``Spawn/start(_:_:environment:directory:output:errors:)``.
    public init(pid: pid_t) { self.pid = pid }

    /// The exit status once it has ended (128 + signal when killed), reaping it; nil while it runs.
    public var exitStatus: Int32? {
        ended.withLockedValue { ended in
            if ended == nil { ended = Spawn.exitStatusIfEnded(pid) }
            return ended
        }
    }

    /// Whether it has not ended yet (reaping it if it has).
    public var isRunning: Bool { exitStatus == nil }

    /// Blocks until it has ended; its exit status.
    @discardableResult
    public func waitUntilExit() -> Int32 {
        ended.withLockedValue { ended in
            if ended == nil { ended = Spawn.wait(pid) }
            return ended ?? -1
        }
    }

    /// Sends SIGTERM (SIGKILL with `force`), unless it has already ended and been reaped.
    public func terminate(force: Bool = false) {
        if isRunning { kill(pid, force ? SIGKILL : SIGTERM) }
    }
}
