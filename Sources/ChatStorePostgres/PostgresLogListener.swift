import Logging
import PostgresNIO

/// Listens on the store's notification channel and says when the log may hold something new.
///
/// A notification carries only the newest sequence number (a NOTIFY payload is limited to 8000
/// bytes; a message is not): the node then reads `seq > last` itself. Notifications sent while
/// the listening connection was down are lost, so every (re)connection is reported too, as a
/// wake-up without a number: the reader catches up from where it was, and a lost notification
/// only delays.
public struct PostgresLogListener: Sendable {
    /// Why the listener woke its reader.
    public enum Wake: Sendable, Equatable {
        /// A commit made `sequence` the newest number.
        case committed(Int64)
        /// Listening (again): anything may have been committed meanwhile.
        case listening
    }

    let store: PostgresChatStore
    /// The first pause after a failed connection; it doubles up to `maximumRetryDelay`.
    var retryDelay: Duration = .milliseconds(100)
    var maximumRetryDelay: Duration = .seconds(2)

    public init(store: PostgresChatStore) {
        self.store = store
    }

    /// Listens until the task is cancelled, calling `wake` for every notification and after
    /// every (re)connection. Failures are logged and retried with a growing pause.
    public func run(_ wake: @escaping @Sendable (Wake) -> Void) async {
        var delay = retryDelay
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    try await connection.listen(on: PostgresChatStore.notificationChannel) { notifications in
                        delay = retryDelay
                        wake(.listening)
                        for try await notification in notifications {
                            if let sequence = Int64(notification.payload) { wake(.committed(sequence)) } else { wake(.listening) }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                store.logger.warning("Listening for the log's notifications failed (retrying in \(delay)): \(error)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, maximumRetryDelay)
        }
    }
}
