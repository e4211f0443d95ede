import ChatProtocol
import ChatStore
import NIOCore

/// Where files may go and who may fetch them (feature `files`).
extension Hub {
    func fileDestination(_ destination: String, from senderKey: String) -> Result<(name: String, key: String), FileTransfer.Problem> {
        let key = UsernameRules.key(destination)
        if key == UsernameRules.key(ChatMessage.broadcastDestination) { return .success((ChatMessage.broadcastDestination, key)) }
        return state.withLockedValue { state in
            guard let recipient = state.users[key] else { return .failure(.init("File not sent: there is no user named \(destination).")) }
            if state.blocks.separated(from: senderKey).contains(key) {
                return .failure(.init("File not sent: you and \(recipient.name) block each other's messages."))
            }
            return .success((recipient.name, key))
        }
    }

    /// Which files a user may fetch, as things stand: read under the lock once, so that a
    /// listing of thousands of files takes it once rather than once per file.
    struct FileVisibility: Sendable {
        let key: String
        let separated: Set<String>
        let heldSinceTime: Int64

        /// Whether `file` is for everyone, for them or from them, and no block separates them
        /// from its sender.
        func allows(_ file: StoredFile) -> Bool {
            let toEveryone = file.toKey == UsernameRules.key(ChatMessage.broadcastDestination)
            guard toEveryone || file.toKey == key || file.fromKey == key else { return false }
            // Direct files of the name's past, before its current holder, are not theirs (one
            // for everyone stays public).
            let mine = file.fromKey == key || file.toKey == key
            if mine, file.time < heldSinceTime { return toEveryone }
            if file.fromKey == key { return true }
            return !separated.contains(file.fromKey)
        }
    }

    /// What the user `key` may fetch, now.
    func fileVisibility(for key: String) -> FileVisibility {
        state.withLockedValue { state in
            FileVisibility(key: key, separated: state.blocks.separated(from: key), heldSinceTime: state.users[key]?.heldSinceTime ?? 0)
        }
    }

    /// Whether the user `key` may fetch `file` (``FileVisibility/allows(_:)``).
    func mayFetch(_ file: StoredFile, key: String) -> Bool {
        let toEveryone = file.toKey == UsernameRules.key(ChatMessage.broadcastDestination)
        guard toEveryone || file.toKey == key || file.fromKey == key else { return false }
        return fileVisibility(for: key).allows(file)
    }

    /// Records a stored file durably (with the other changes staged on its loop).
    func recordFile(_ file: StoredFile, connection: ClientConnection) {
        stage(.store(.file(file)), for: connection)
    }

    /// `connection`, logged in under `key`, has closed. Everyone else is told it left.
}
