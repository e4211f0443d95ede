import ChatProtocol
import ChatStore
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
        if key == FileTransfer.Key.list {
            listFiles(for: user, asCommand: false)
            return
        }
        // An offer ends in a notice to the chat (at once, for an empty file): it takes a
        // message from the rate limit like any message.
        if key == FileTransfer.Key.offer { budgets.refreshMessageRate(from: hub) }
        if key == FileTransfer.Key.offer, !budgets.takeMessage() {
            let limits = hub.liveSettings
            sendError(
                "Slow down: file not offered; an offer counts as a message (at most \(Self.format(limits.messagesPerSecond)) per second, bursts of \(limits.messageBurst)).",
                counted: false)
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

    /// Lists the files the user may fetch off the loop, within the request budget: a `FILES`
    /// frame, or /Files' lines.
    func listFiles(for user: User, asCommand: Bool) {
        guard let shelf = hub.fileShelf else {
            sendError("This server does not keep files.", counted: false)
            return
        }
        let work = FileRequests(hub: hub, shelf: shelf, connection: connection, userName: user.name, userKey: user.key).listingWork()
        runExpensive(work) { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let files):
                if asCommand {
                    self.reply(FileRequests.listLines(files), to: user)
                } else {
                    self.write(FileRequests.listFrame(files))
                    self.context?.flush()
                }
            case .failure(let error):
                self.sendError(Self.refusalText(error) ?? "The files could not be listed: \(error).", counted: false)
            }
        }
    }

    /// Loads a page of older history or search results off the loop, within the user's request
    /// budget, and sends it after everything delivered before the request. /History continues
    /// where the last one ended.
    func sendPage(_ request: HistoryQuery, for user: User, asCommand: Bool) {
        var query = request
        let continuesCommand = asCommand && query.query == nil
        if continuesCommand { query.before = commandHistoryCursor }
        let limits = hub.configuration.limits
        if let words = query.words, let word = Self.shortPrefix(in: words, minimum: limits.searchPrefixMinimum) {
            sendError(
                "Search words ending in * need at least \(limits.searchPrefixMinimum) letters before the *: \(word) would match too many words.",
                counted: !asCommand)
            return
        }
        let budget = hub.configuration.maximumFrameLength - 1024
        runExpensive(hub.pageWork(for: user.key, query: query)) { result in
            guard case .live(let current) = self.state, current.key == user.key else { return }
            switch result {
            case .success(let page):
                let reply = HistoryReply(page, budget: budget)
                if continuesCommand, let cursor = reply.cursor { self.commandHistoryCursor = cursor }
                let frames = asCommand
                    ? reply.commandFrames(for: query) { self.pseudoMessage($0, to: user) }
                    : reply.structuredFrame(for: query)
                self.hub.deliverInOrder(frames, to: self.connection)
            case .failure(StoreError.timeLimitExceeded(let limit)):
                self.sendError(
                    query.query == nil
                        ? "The history page took longer than \(Self.describe(limit)) to load and was stopped; please try again."
                        : "Search stopped: it took longer than \(Self.describe(limit)). Use longer words before *, or more words.",
                    counted: false)
            case .failure(let error):
                if let text = Self.refusalText(error) {
                    self.sendError(text, counted: false)
                    return
                }
                self.logger.error("A page of history for \(user.name) could not be loaded: \(error)")
                self.sendError("The history could not be loaded; please try again.", counted: false)
            }
        }
    }

    /// Runs an expensive request (a search, a page, a file listing) on the request threads if
    /// the user's budget allows, charging it what it took; `answer` gets the outcome on the
    /// loop. Over budget, the user is told "busy, try again" and `answer` is not called.
    func runExpensive<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value, answer: @escaping (Result<Value, any Error>) -> Void) {
        if let refusal = budgets.requests.admit() {
            sendError(refusal.text, counted: false)
            return
        }
        hub.runRequest(on: connection.eventLoop, work).assumeIsolated().whenSuccess { measured in
            self.budgets.requests.finish(cost: measured.cost)
            answer(measured.result)
        }
    }

    /// What to tell a user whose request the request threads refused, if they did.
    static func refusalText(_ error: any Error) -> String? {
        switch error {
        case WorkPoolError.stopping: stoppingText
        case WorkPoolError.busy: "Busy: the server has too many requests waiting; try again in a moment."
        default: nil
        }
    }

    /// The first search word whose `*` follows fewer than `minimum` letters or digits (of the
    /// word's last token: what the prefix applies to), if any.
    static func shortPrefix(in words: [String], minimum: Int) -> String? {
        for word in words where word.hasSuffix("*") {
            var bare = Substring(word)
            while bare.hasSuffix("*") { bare = bare.dropLast() }
            let tokens = bare.split { !($0.isLetter || $0.isNumber) }
            if (tokens.last?.count ?? 0) < minimum { return word }
        }
        return nil
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = RequestBudget.milliseconds(duration)
        return milliseconds >= 1000 && milliseconds.truncatingRemainder(dividingBy: 1000) == 0
            ? "\(Int(milliseconds / 1000)) s" : "\(Int(milliseconds)) ms"
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
            case .failure(let error) where Self.refusalText(error) != nil:
                self.sendError("Not registered. " + Self.refusalText(error)!, counted: false)
            case .failure(let error):
                self.logger.error("Hashing a password failed: \(error)")
                self.sendError("Not registered: the password could not be hashed.", counted: false)
            }
        }
    }
}
