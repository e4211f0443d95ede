/// What the ``ChatEngine`` tells the user interface, in order.
public enum ClientUpdate: Sendable, Equatable {
    /// Something from the conversation to show.
    case event(ChatEvent)
    /// News about the connection, to show as a line.
    case connection(ConnectionEvent)
    /// The next line the user types is taken as the username. `reason` explains what the
    /// refusal shown just before does not (the name was taken while the client was away).
    case usernameNeeded(reason: String?)
    /// The next line the user types is a secret (a password): do not show it, keep it out of
    /// input history. `prompt` says what is asked for.
    case secretNeeded(prompt: String)
    /// The state changed (for status bars, user lists, completion).
    case status(ClientStatus)
}

/// A change in the connection, as the user should hear of it.
public enum ConnectionEvent: Sendable, Equatable {
    /// Starting round `attempt` of connection attempts after a loss (1 for the first retry),
    /// with `server` first.
    case reconnecting(attempt: Int, server: ServerEndpoint)
    /// The connection to `server`, at `address` ("192.0.2.7:9000"), is up.
    case connected(server: ServerEndpoint, address: String, security: SecurityLevel)
    /// `server` (at `address`; `nil` when its name did not resolve) could not be used, for
    /// `reason`; the client tries `next` now (another of the same server's addresses when it
    /// is `server` again; `nil`: whichever comes next).
    case serverSkipped(server: ServerEndpoint, address: String?, reason: String, next: ServerEndpoint?)
    /// The connection was lost; the next attempt follows in `retryIn`, or never when `nil`.
    case lost(reason: String, retryIn: Duration?)
    /// A round of reconnection attempts failed (every server); the next follows in `retryIn`.
    case attemptFailed(reason: String, retryIn: Duration)
    /// Logged in again after a loss, on `server`. `missedMessages` arrived while the client
    /// was away; `sentLines` typed meanwhile are being sent now (at the rate the server
    /// accepts; ``queuedLinesSent(sent:notSent:)`` says when they have all gone).
    case backOnline(username: String, missedMessages: Int, sentLines: Int, server: ServerEndpoint)
    /// Every line typed while disconnected has been sent (and, to a server that echoes
    /// them, confirmed): `sent` of them; `notSent` could not be (the server kept refusing).
    case queuedLinesSent(sent: Int, notSent: Int)
    /// A line typed while offline waits to be sent; `waiting` lines in all.
    case queued(waiting: Int)
    /// A line typed while offline was dropped: `limit` lines are already waiting.
    case queueFull(limit: Int)
}
