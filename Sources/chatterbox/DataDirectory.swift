import Foundation

/// The server's data directory: its database, and what shows that it was set up before.
///
/// A directory that was used before and has lost its database must not quietly start a new
/// one: that would forget the history and every registered name, and the next person to log
/// in under a registered name would get it without a password. Such a directory is refused
/// unless the operator asks for an empty start with `--init`.
struct DataDirectory {
    let path: String

    var databasePath: String { path + "/chatterbox.sqlite" }

    /// Written once the database is open; says what the directory is.
    var markerPath: String { path + "/chatterbox.initialised" }

    static let markerText = """
        This directory holds the data of a Chatterbox server. Its database is chatterbox.sqlite:
        keep it, and back it up. Without it the server refuses to start (it would otherwise begin
        an empty history and forget every registered name) unless run with --init.

        """

    enum DatabaseState: Equatable {
        case present
        case missing
        /// A file of zero bytes: SQLite would take it for a new, empty database.
        case empty
    }

    var database: DatabaseState {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: databasePath) else { return .missing }
        return (attributes[.size] as? NSNumber)?.int64Value == 0 ? .empty : .present
    }

    /// What in the directory shows the server ran here before: the marker, generated
    /// certificates, the search index, the database's log, stored files. Empty for a new
    /// directory.
    func signsOfUse() -> [String] {
        let files = FileManager.default
        var found: [String] = []
        for name in ["chatterbox.initialised", "ca.crt", "ca.key", "server.crt", "server.key",
                     "chatterbox.sqlite-wal", "chatterbox.sqlite-search"]
        where files.fileExists(atPath: path + "/" + name) {
            found.append(name)
        }
        if let stored = try? files.contentsOfDirectory(atPath: path + "/files"), !stored.isEmpty {
            found.append("files/")
        }
        return found
    }

    /// Why the server must not start on this directory, or `nil` when it may. `initialise`:
    /// the operator asked (`--init`) for an empty database where there is none.
    func refusal(initialise: Bool) -> String? {
        let state = database
        guard state != .present, !initialise else { return nil }
        let signs = signsOfUse()
        guard !signs.isEmpty else { return nil }
        let what = state == .missing ? "has no database" : "has an empty database (0 bytes)"
        return """
            the data directory \(path) was used by a server before (it holds \(signs.joined(separator: ", "))) \
            but \(what) at \(databasePath).
            Starting would begin an empty history and forget every registered name. Restore \
            chatterbox.sqlite from a backup (with its -wal file, if there was one), or run with \
            --init to start with an empty database on purpose.
            """
    }

    /// Before an empty start (`--init`): a log left without its database is moved aside
    /// (SQLite would replay it into the new one); returns what was moved.
    func setAsideOrphanedLog() -> [String] {
        guard database != .present else { return [] }
        var moved: [String] = []
        for suffix in ["-wal", "-shm"] {
            let file = databasePath + suffix
            guard FileManager.default.fileExists(atPath: file) else { continue }
            let aside = file + ".orphaned-\(Int(Date().timeIntervalSince1970))"
            if (try? FileManager.default.moveItem(atPath: file, toPath: aside)) != nil { moved.append(aside) }
        }
        return moved
    }

    /// Records that the directory holds a server's data (once the database is open).
    func writeMarker() {
        guard !FileManager.default.fileExists(atPath: markerPath) else { return }
        _ = FileManager.default.createFile(
            atPath: markerPath, contents: Data(Self.markerText.utf8), attributes: [.posixPermissions: 0o600])
    }
}
