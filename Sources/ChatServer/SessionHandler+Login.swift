import ChatProtocol
import ChatStore
import NIOCore
import Synchronization

/// Logging in: the password check of registered names (off the loop, within the attempt
/// limits), admission by the hub, and the acceptance with its history.
extension SessionHandler {

    /// A connection that has not logged in within the timeout is closed (slowloris).
    func armLoginDeadline(_ context: ChannelHandlerContext) {
        guard login.deadline == nil else { return }
        let timeout = hub.configuration.limits.loginTimeout
        let session = NIOLoopBound(self, eventLoop: context.eventLoop)
        login.deadline = context.eventLoop.scheduleTask(in: timeout) {
            guard case .awaitingLogin = session.value.state else { return }
            session.value.hub.metrics.limit(.loginTimeoutCut)
            session.value.disconnect(reason: "Login timed out: no {\"USERNAME\": ...} accepted within \(timeout.nanoseconds / 1_000_000_000) seconds.")
        }
    }

    /// A login under `name`: a registered name first has its password checked, off the loop
    /// and within the attempt limits; then the hub admits it.
    func login(name: String, password: String?, features: [String]?) {
        let key = UsernameRules.key(name)
        let asksForAccounts = features?.contains("accounts") == true
        guard let encoded = hub.accountHash(forKey: key) else {
            admit(name: name, features: features, authenticatedHash: nil)
            return
        }
        guard let password else {
            refuse(Hub.registeredNameText(name), name: name, passwordRequired: asksForAccounts, counted: .passwordRequired)
            return
        }
        guard let stored = PasswordHash(encoded: encoded) else {
            logger.error("The stored password hash of \(name) is damaged")
            refuse("The password of \(name) cannot be checked (a problem on the server). Please choose another name.", name: name, counted: .unavailable)
            return
        }
        if let wait = hub.loginAttempts.attempt(nameKey: key, address: connection.address) {
            refuse("Too many login attempts for \(name): try again in \(describeDuration(wait)).", name: name, counted: .tooManyAttempts)
            return
        }
        state = .verifying
        context?.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let verified = hub.verifyPassword(on: connection.eventLoop) { stored.matches(password) }
        verified.assumeIsolated().whenComplete { result in
            guard case .verifying = self.state else { return }
            self.state = .awaitingLogin
            self.context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            if case .success(true) = result {
                self.hub.loginAttempts.trust(self.connection.address, for: key)
                self.admit(name: name, features: features, authenticatedHash: encoded)
            } else if case .failure(WorkPoolError.stopping) = result {
                _ = self.closeForShutdown()
                return
            } else {
                self.refuse("Wrong password for \(name).", name: name, passwordRequired: asksForAccounts, counted: .wrongPassword)
            }
            // Frames that came during the check, if the login did not go ahead.
            while case .awaitingLogin = self.state, let frame = self.login.takeEarlyFrame() {
                self.process(frame, hadProblems: false)
            }
        }
    }

    /// USERNAME_ACCEPTED false with `reason`; PASSWORD_REQUIRED too when the name needs a
    /// password and the client negotiated accounts.
    func refuse(_ reason: String, name: String, passwordRequired: Bool = false, counted: ServerMetrics.LoginRefusal = .name) {
        hub.metrics.loginRefused(counted)
        logger.debug("Login as \(name) refused: \(reason)")
        var frame = Frame(usernameAccepted: false, info: reason)
        if passwordRequired {
            frame.extensions.append(.init(key: Frame.Key.passwordRequired, value: .bool(true)))
        }
        write(frame)
        context?.flush()
    }

    func admit(name: String, features: [String]?, authenticatedHash: String?) {
        switch hub.login(name: name, connection: connection, authenticatedHash: authenticatedHash, offersAccounts: features?.contains("accounts") == true) {
        case .rejected(let reason):
            refuse(reason, name: name)
        case .banned(let reason):
            logger.notice("Login as \(name) from \(connection.address) refused: \(reason)")
            refuse(reason, name: name, counted: .banned)
        case .needsPassword(let reason):
            refuse(reason, name: name, passwordRequired: features?.contains("accounts") == true, counted: .passwordRequired)
        case .accepted(let ticket):
            login.deadline?.cancel()
            let user = User(name: ticket.name, key: ticket.key, authenticated: authenticatedHash != nil)
            state = .loggingIn(user, features: features)
            context?.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            // In a cluster the name must not be online on another server: the shared store says.
            hub.claimOnline(ticket, on: connection.eventLoop).assumeIsolated().whenSuccess { claim in
                switch claim {
                case .online:
                    self.hub.metrics.loginsAccepted.increment()
                    self.logger.info("\(user.name) joined")
                    self.hub.loadHistory(ticket.history, on: self.connection.eventLoop).assumeIsolated().whenComplete { result in
                        self.completeLogin(ticket, result: result)
                    }
                case .taken:
                    self.abandonLogin(ticket, reason: "The username \(ticket.name) is already in use. Please choose another.", name: name)
                case .unreachable(let problem):
                    self.logger.error("Login of \(ticket.name) not confirmed by the shared store: \(problem)")
                    self.abandonLogin(ticket, reason: "The server cannot reach its database right now. Please try again in a moment.", name: name, counted: .unavailable)
                }
            }
        }
    }

    /// A login the cluster refused after the hub accepted it: back to awaiting a login.
    func abandonLogin(_ ticket: Hub.LoginTicket, reason: String, name: String, counted: ServerMetrics.LoginRefusal = .name) {
        guard case .loggingIn = state else { return }
        hub.retractLogin(connection, key: ticket.key)
        state = .awaitingLogin
        login.dropHeldBack()
        refuse(reason, name: name, counted: counted)
        context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        login.deadline = nil
        if let context { armLoginDeadline(context) }
        while case .awaitingLogin = state, let frame = login.takeEarlyFrame() {
            process(frame, hadProblems: false)
        }
    }

    func completeLogin(_ ticket: Hub.LoginTicket, result: Result<History, any Error>) {
        guard case .loggingIn(let user, let features) = state else { return }
        var info = "Welcome to Chatterbox, \(user.name)! \(ticket.userList.count) online."
        let history: History
        var sizes: [Int] = []
        switch result {
        case .success(let loaded):
            let replay = loaded.trimmedForReplay(toBytes: hub.configuration.loginReplayBytes)
            history = replay.history
            sizes = replay.sizes
            if replay.leftOut > 0 {
                info += " Showing the most recent \(history.messages.count) messages of the history (a login shows at most \(hub.configuration.loginReplayBytes / 1024) KiB of it)."
            } else if loaded.truncated {
                info += " Showing the most recent \(hub.configuration.historyLimit) messages of the history."
            }
            if loaded.pendingCount > 0 {
                info += " \(loaded.pendingCount) direct message\(loaded.pendingCount == 1 ? "" : "s") arrived while you were away."
            }
        case .failure(WorkPoolError.stopping):
            // The server stopped before the history was read: say goodbye rather than welcome.
            _ = closeForShutdown()
            return
        case .failure(let error):
            logger.error("History for \(user.name) could not be loaded: \(error)")
            history = History(messages: [], truncated: false, pendingCount: 0)
            info += " The history could not be loaded."
        }
        if let notice = ticket.notice { info += " " + notice }
        var reply = Frame(usernameAccepted: true, info: info, userList: ticket.userList, messages: [])
        // Paging back starts below the replayed window (or below everything delivered).
        let cursor = history.pageCursor ?? (ticket.history.throughSequence + 1)
        commandHistoryCursor = cursor
        // The rate as it is now (a SIGHUP may have changed it since the connection was made).
        let generation = hub.liveGeneration.load(ordering: .relaxed)
        let limits = hub.liveSettings
        budgets.restartMessageRate(limits, generation: generation)
        if let features {
            // "operators" only for an operator: it tells the client to offer the operator commands.
            // No deflate on an adopted (WebSocket) connection: its messages are JSON text only.
            let isOperator = hub.isOperator(key: user.key, authenticated: user.authenticated)
            let enabled = Self.supportedFeatures.filter {
                features.contains($0) && ($0 != "files" || hub.fileShelf != nil) && ($0 != "operators" || isOperator)
                    && ($0 != "deflate" || !isAdopted)
            }
            reply.features = enabled
            reply.extensions.append(.init(key: "SERVER_USER", value: .string(hub.configuration.serverName)))
            // So that a client paces itself instead of being told to slow down (PROTOCOL.md).
            reply.extensions.append(.init(key: Frame.Key.limits, value: MessageRate(perSecond: limits.messagesPerSecond, burst: limits.messageBurst).jsonValue))
            if enabled.contains("history") {
                let info = HistoryPageInfo(before: cursor, more: history.truncated || (history.pageCursor == nil && cursor > 1))
                reply.extensions.append(.init(key: Frame.Key.history, value: info.jsonValue))
            }
        }
        // The client could not read its replay before it was sent: the budget's shrinking caps
        // must not cut it for that.
        (try? context?.pipeline.syncOperations.handler(type: OutboundBacklog.self))?.allowBurst(of: sizes.reduce(0, +))
        for (index, frame) in Self.split(reply, history: history.messages.map(\.message), sizes: sizes, limit: hub.configuration.maximumFrameLength).enumerated() {
            // Frame by frame (each up to the frame limit), so that the outbound budget sees a
            // long history queue up for a client that does not read, and stops it.
            if index > 0 { context?.flush() }
            write(frame)
            // The acceptance itself goes uncompressed: the client learns from it that it may
            // receive compressed frames.
            if index == 0, reply.features?.contains("deflate") == true { output.compressing = true }
        }
        if let motd = limits.motd, !motd.isEmpty {
            // After the acceptance (a client learns it is in first), before anything else.
            write(Frame(info: motd))
        }
        state = .live(user)
        if let context, !login.heldBack.isEmpty {
            // One write for all of them: thousands of separate writes (a login during a storm
            // of logins holds back a notice for each) would grow NIO's and NIOSSL's per-channel
            // write queues, which never shrink back.
            var gathered = context.channel.allocator.buffer(capacity: login.heldBackBytes)
            for frame in login.heldBack { gathered.writeImmutableBuffer(frame) }
            context.write(wrapOutboundOut(outbound(gathered)), promise: nil)
        }
        login.dropHeldBack()
        context?.flush()
        context?.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        for frame in login.takeEarlyFrames() {
            guard case .live = state else { break }
            process(frame, hadProblems: false)
        }
    }

    /// The login reply carrying `history`, split so that no frame's JSON exceeds `limit`:
    /// the first frame is the reply itself, the rest are plain MESSAGES frames. `sizes` holds
    /// each message's ``History/replaySize(of:)``, as ``History/trimmedForReplay(toBytes:)`` measured it.
    static func split(_ reply: Frame, history: [ChatMessage], sizes: [Int], limit: Int) -> [Frame] {
        var base = ByteBuffer()
        FrameCoding.writePayload(reply, into: &base)
        var frames: [Frame] = []
        var current = reply
        var size = base.readableBytes
        for (message, added) in zip(history, sizes) {
            if size + added > limit, !(current.messages ?? []).isEmpty {
                frames.append(current)
                current = Frame(messages: [])
                size = #"{"MESSAGES":[]}"#.utf8.count
            }
            current.messages!.append(message)
            size += added
        }
        frames.append(current)
        return frames
    }
}
