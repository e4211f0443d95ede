import Dispatch
import Foundation
import Logging
import ServiceLifecycle

/// Bounds the drain that SIGTERM/SIGINT starts: a server that has not stopped within the
/// timeout (a database that does not answer the last commit, say) exits with status 1, saying
/// so, rather than hanging until its supervisor kills it.
///
/// Last in the service group, so it is told of the shutdown first; it arms the deadline on a
/// timer of its own and returns at once, letting the group stop the others.
struct ShutdownDeadline: Service {
    let seconds: Int
    let logger: Logger

    func run() async throws {
        try await gracefulShutdown()
        let (seconds, logger) = (self.seconds, self.logger)
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
            logger.error("The server did not stop within --shutdown-timeout (\(seconds) s); exiting now.")
            exit(1)
        }
    }
}
