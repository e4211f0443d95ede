public import ChatClient
import ChatProtocol

/// How the screen takes in what the engine reports.
extension ChatScreen {
    /// Takes in one update from the engine, received at `now` (seconds since the epoch).
    public mutating func apply(_ update: ClientUpdate, now: Int64) -> [Effect] {
        switch update {
        case .event(let event):
            return apply(event, now: now)
        case .connection(.reconnecting):
            // The status bar counts down to each attempt; a line per attempt is only noise.
            break
        case .connection(.attemptFailed(let reason, _)) where reason == lastFailedAttempt:
            // The same failure again: the status bar's countdown says enough.
            break
        case .connection(.serverSkipped(let server, let address, let reason, _)) where skippedShown.contains("\(server) \(address ?? "") \(reason)"):
            // Each round that fails skips the same servers for the same reasons.
            break
        case .connection(let event):
            switch event {
            case .attemptFailed(let reason, _): lastFailedAttempt = reason
            case .serverSkipped(let server, let address, let reason, _): skippedShown.insert("\(server) \(address ?? "") \(reason)")
            case .connected:
                lastFailedAttempt = nil
                skippedShown = []
            default: break
            }
            let text = ConnectionEventText.describe(event, host: status.host, port: status.port)
            append(ConnectionEventText.isProblem(event) ? .error(text) : .notice(text), time: now)
        case .usernameNeeded(let reason):
            askingForUsername = true
            if let reason { append(.error(reason), time: now) }
            append(.notice("Choose a username: type it below and press Enter."), time: now)
        case .secretNeeded(let prompt):
            askingForSecret = prompt
            append(.notice(TerminalSanitizer.sanitize(prompt) + "(typed characters show as *)"), time: now)
        case .status(let status):
            self.status = status
            if status.phase == .online { askingForUsername = false }
        }
        return []
    }

    mutating func apply(_ event: ChatEvent, now: Int64) -> [Effect] {
        switch event {
        case .welcome(let info, let online):
            // After a reconnection the same greeting again is noise; who is online is news.
            if let info, welcome == nil { append(.info(info), time: now) }
            welcome = info ?? welcome
            append(.info("Online (\(online.count)): " + online.joined(separator: ", ")), time: now)
        case .loginRefused(let reason):
            append(.error("Username refused: " + reason), time: now)
        case .history(let messages):
            for message in messages {
                append(.message(message, highlight(message)), time: message.timestamp)
            }
            append(.notice(messages.isEmpty ? "No earlier messages." : "End of earlier messages."), time: now)
        case .earlierMessages(let messages, let more):
            // Shown where the user is reading now, marked as older, rather than spliced into
            // the scrollback above.
            append(.notice(messages.isEmpty ? "No earlier messages." : "┌ \(messages.count) earlier message\(messages.count == 1 ? "" : "s") (from the history, not new):"), time: now)
            for message in messages { append(.pastMessage(message), time: now) }
            if !messages.isEmpty {
                append(.notice("└ " + (more ? "/History again for the ones before." : "That was the beginning of the history.")), time: now)
            }
        case .searchResults(let query, let messages, let more):
            let shownQuery = TerminalSanitizer.sanitize(query)
            append(.notice(messages.isEmpty ? "No messages contain \(shownQuery)." : "┌ \(messages.count) message\(messages.count == 1 ? "" : "s") containing \(shownQuery) (search results, not new):"), time: now)
            for message in messages { append(.pastMessage(message), time: now) }
            if !messages.isEmpty { append(.notice("└ End of the results" + (more ? " (only the most recent matches)." : ".")), time: now) }
        case .message(let message):
            let kind = highlight(message)
            append(.message(message, kind), time: message.timestamp)
            if kind == .directToMe { unreadDirectMessages += 1 }
            if kind.isAlert, bellEnabled { return [.bell] }
        case .joined(let name):
            append(.joined(name), time: now)
        case .left(let name):
            append(.left(name), time: now)
        case .info(let text):
            append(.info(text), time: now)
        case .error(let text):
            append(.error("Error from server: " + text), time: now)
        case .notice(let text):
            append(.notice(text), time: now)
        case .protocolProblem(let text):
            append(.error("Unexpected data from server: " + text), time: now)
        }
        return []
    }

    func highlight(_ message: ChatMessage) -> MessageHighlight {
        MessageHighlight.of(message, username: status.username, serverUser: status.serverUser)
    }

    /// Adds a line of the client's own.
    public mutating func addNotice(_ text: String, now: Int64? = nil) {
        append(.notice(text), time: now ?? scrollback.entries.last?.time ?? 0)
    }

    mutating func append(_ kind: ScrollbackEntry.Kind, time: Int64) {
        let layout = layoutCache.layout
        scrollback.append(kind, time: time) { entry in
            layout?.rows(for: entry).count ?? 1
        }
    }
}
