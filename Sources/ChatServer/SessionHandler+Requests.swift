import ChatProtocol
import NIOCore

/// Requests answered off the loop for a logged-in user: files, history pages and searches,
/// and /Register's password hash.
extension SessionHandler {
    /// The answer to a request the server stopped before answering.
    static let stoppingText = "The server is shutting down: this request was not answered."

    /// A file request (feature `files`): answered directly, in the order the requests came.
    func handleFileRequest(_ key: String, _ value: JSONValue, for user: User) {
        guard let shelf = hub.fileShelf else {
            sendError("This server does not keep files.", counted: false)
            return
        }
        let requests = FileRequests(hub: hub, shelf: shelf, connection: connection, userName: user.name, userKey: user.key)
        requests.handle(key, value).assumeIsolated().whenSuccess { answer in
            guard case .live = self.state else { return }
            switch answer {
            case .frame(let frame):
                self.write(frame)
                self.context?.flush()
            case .error(let text):
                self.sendError(text, counted: false)
            }
        }
    }

    /// Loads a page of older history or search results off the loop and sends it after
    /// everything delivered before the request. /History continues where the last one ended.
    func sendPage(_ request: HistoryQuery, for user: User, asCommand: Bool) {
        var query = request
        let continuesCommand = asCommand && query.query == nil
        if continuesCommand { query.before = commandHistoryCursor }
        let budget = hub.configuration.maximumFrameLength - 1024
        hub.loadPage(for: user.key, query: query, on: connection.eventLoop).assumeIsolated().whenComplete { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let page):
                let reply = HistoryReply(page, budget: budget)
                if continuesCommand, let cursor = reply.cursor { self.commandHistoryCursor = cursor }
                let frames = asCommand
                    ? reply.commandFrames(for: query) { self.pseudoMessage($0, to: user) }
                    : reply.structuredFrame(for: query)
                self.hub.deliverInOrder(frames, to: self.connection)
            case .failure(WorkPoolError.stopping):
                self.sendError(Self.stoppingText, counted: false)
            case .failure(let error):
                self.logger.error("A page of history for \(user.name) could not be loaded: \(error)")
                self.sendError("The history could not be loaded; please try again.", counted: false)
            }
        }
    }

    /// /Register: hashes the password off the loop (within the attempt limits, as hashing is
    /// what they protect), then records it.
    func register(_ password: String, for user: User) {
        if let wait = hub.loginAttempts.attempt(nameKey: user.key, address: connection.address) {
            sendError("Not registered: too many password attempts; try again in \(describeDuration(wait)).", counted: false)
            return
        }
        let rounds = hub.configuration.passwordHashRounds
        let hashed = hub.offload(on: connection.eventLoop) { try PasswordHash(hashing: password, rounds: rounds).encoded }
        hashed.assumeIsolated().whenComplete { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let encoded):
                self.reply(self.hub.setAccount(key: user.key, passwordHash: encoded, connection: self.connection), to: user)
            case .failure(WorkPoolError.stopping):
                self.sendError("Not registered: " + Self.stoppingText, counted: false)
            case .failure(let error):
                self.logger.error("Hashing a password failed: \(error)")
                self.sendError("Not registered: the password could not be hashed.", counted: false)
            }
        }
    }
}
