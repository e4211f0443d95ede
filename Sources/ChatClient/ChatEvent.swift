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
    /// The server sent something that does not follow the protocol.
    case protocolProblem(String)
}
