public import ChatProtocol

/// Something the user should see.
public enum ChatEvent: Sendable, Equatable {
    /// The server accepted the login.
    case welcome(info: String?, online: [String])
    /// The server refused the username; ask for another.
    case loginRefused(String)
    /// Messages from before the login, oldest first.
    case history([ChatMessage])
    /// A page of older history the user asked for (/History), oldest first; `more` when
    /// older messages remain.
    case earlierMessages([ChatMessage], more: Bool)
    /// Messages containing the words of a search (/Search), oldest first; `more` when older
    /// matches remain.
    case searchResults(query: String, messages: [ChatMessage], more: Bool)
    /// A new message (broadcast, direct, or from the server's pseudo-user).
    case message(ChatMessage)
    case joined(String)
    case left(String)
    /// INFO from the server.
    case info(String)
    /// ERROR from the server.
    case error(String)
    /// Output of a command handled by the client itself.
    case notice(String)
    /// The answer to the command `command` (its name as /Help spells it: "DisplayUsers"),
    /// from the server's pseudo-user `from` or, when `from` is `nil`, from the client that ran
    /// it itself. `isError`: the server refused it (its ERROR).
    case commandResult(command: String, lines: [String], from: String?, isError: Bool)
    /// A file transfer advanced (each further quarter) or finished.
    case fileTransfer(FileTransferNews)
    /// The server sent something that does not follow the protocol.
    case protocolProblem(String)
}

/// How a file transfer (feature `files`) is getting on.
public struct FileTransferNews: Sendable, Equatable {
    public enum Direction: String, Sendable, Equatable {
        /// /Send: from this client to the server.
        case upload
        /// /Get: from the server to this client.
        case download
    }

    public var direction: Direction
    /// The file's name as offered.
    public var name: String
    /// The server's id of the file, once known.
    public var id: String?
    /// Bytes sent or received so far, and in all.
    public var done: Int64
    public var total: Int64
    /// The local file: the one sent, or where a download was saved (once done).
    public var path: String?
    /// What to tell a person.
    public var text: String

    /// Whether the transfer is complete.
    public var isFinished: Bool { done >= total }

    public init(direction: Direction, name: String, id: String?, done: Int64, total: Int64, path: String?, text: String) {
        self.direction = direction
        self.name = name
        self.id = id
        self.done = done
        self.total = total
        self.path = path
        self.text = text
    }
}
