public import ChatClient
import ChatProtocol

/// How the screen takes in what the engine reports.
extension ChatScreen {
    /// Takes in one update from the engine, received at `now` (seconds since the epoch).
    public mutating func apply(_ update: ClientUpdate, now: Int64) -> [Effect] {
        lastNow = now
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
            // The connection's news belongs to the room, like a server buffer's; a problem is
            // also said where the user is.
            let problem = ConnectionEventText.isProblem(event)
            append(problem ? .error(text) : .notice(text), time: now, to: 0, activity: .none)
            if problem, currentWindow != 0 { append(.error(text), time: now) }
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
            if let info, welcome == nil { append(.info(info), time: now, to: 0, activity: .none) }
            welcome = info ?? welcome
            append(.info("Online (\(online.count)): " + online.joined(separator: ", ")), time: now, to: 0, activity: .none)
        case .loginRefused(let reason):
            append(.error("Username refused: " + reason), time: now)
        case .history(let messages):
            // Each replayed message goes to its window, as it would have live.
            replaying = true
            for message in messages {
                deliver(message, highlight: highlight(message), live: false)
            }
            replaying = false
            append(.notice(messages.isEmpty ? "No earlier messages." : "End of earlier messages."), time: now, to: 0, activity: .none)
        case .earlierMessages(let messages, let more) where pagingPending:
            prependPage(messages, more: more)
        case .earlierMessages(let messages, let more):
            // Shown where the user is reading now, marked as older, rather than spliced into
            // the scrollback above.
            append(.notice(messages.isEmpty ? "No earlier messages." : "┌ \(messages.count) earlier message\(messages.count == 1 ? "" : "s") (from the history, not new):"), time: now)
            for message in messages { append(.pastMessage(message), time: now) }
            if !messages.isEmpty {
                append(.notice("└ " + (more ? "/History again for the ones before." : "That was the beginning of the history.")), time: now)
            }
        case .searchResults(let query, let messages, let more):
            // Results get a window of their own, never mixed with live messages; the user
            // asked for them, so it is shown.
            let index = searchWindow()
            switchToWindow(index)
            let shownQuery = TerminalSanitizer.sanitize(query)
            append(.notice(messages.isEmpty ? "No messages contain \(shownQuery)." : "┌ \(messages.count) message\(messages.count == 1 ? "" : "s") containing \(shownQuery) (search results, not new):"), time: now)
            for message in messages { append(.pastMessage(message), time: now) }
            if !messages.isEmpty { append(.notice("└ End of the results" + (more ? " (only the most recent matches)." : ".")), time: now) }
        case .message(let message):
            let kind = highlight(message)
            deliver(message, highlight: kind, live: true)
            let effects = react(to: message, highlight: kind)
            if kind.isAlert, bellEnabled { return [.bell] + effects }
            return effects
        case .joined(let name):
            guard !hideJoins else { break }
            append(.joined(name), time: now, to: 0, activity: .none)
            if let index = windows.firstIndex(where: { $0.isQuery(with: name) }) { append(.joined(name), time: now, to: index, activity: .none) }
        case .left(let name):
            awayUsers[name.lowercased()] = nil
            guard !hideJoins else { break }
            append(.left(name), time: now, to: 0, activity: .none)
            // Someone you talk to leaving is news in your conversation too.
            if let index = windows.firstIndex(where: { $0.isQuery(with: name) }) { append(.left(name), time: now, to: index, activity: .none) }
        case .info(let text):
            append(.info(text), time: now)
        case .error(let text):
            append(.error("Error from server: " + text), time: now)
        case .notice(let text):
            // PgUp's request answered by the client itself (no history on this server).
            if pagingPending {
                pagingPending = false
                historyExhausted = true
            }
            append(.notice(text), time: now)
        case .fileTransfer(let news):
            append(.notice(news.text), time: now)
        case .commandResult(_, let lines, let from, let isError):
            // Shown where the command was typed, as the server's or the client's own words.
            for line in lines {
                if isError {
                    append(.error("Error from server: " + line), time: now)
                } else if let from {
                    append(.message(ChatMessage(source: from, destination: status.username ?? "", timestamp: now, content: line), .server), time: now)
                } else {
                    append(.notice(line), time: now)
                }
            }
        case .protocolProblem(let text):
            append(.error("Unexpected data from server: " + text), time: now)
        }
        return []
    }

    func highlight(_ message: ChatMessage) -> MessageHighlight {
        MessageHighlight.of(message, username: status.username, serverUser: status.serverUser, words: highlightWords)
    }

    /// Adds a line of the client's own.
    public mutating func addNotice(_ text: String, now: Int64? = nil) {
        append(.notice(text), time: now ?? max(lastNow, scrollback.entries.last?.time ?? 0))
    }

    /// Adds an entry to the window shown.
    mutating func append(_ kind: ScrollbackEntry.Kind, time: Int64) {
        append(kind, time: time, to: currentWindow, activity: .none)
    }

    /// Adds an entry to window `index`; in a window not shown, `activity` marks it.
    mutating func append(_ kind: ScrollbackEntry.Kind, time: Int64, to index: Int, activity: Activity) {
        let layout = windows[index].layoutCache.layout
        windows[index].scrollback.append(kind, time: time) { entry in
            layout?.rows(for: entry).count ?? 1
        }
        if logsEnabled, !replaying, windows[index].kind != .search, let entry = windows[index].scrollback.entries.last,
           let text = WindowLog.text(of: entry, timeZone: clock.timeZone) {
            pendingLogLines.append(LogLine(window: windows[index].name, text: text))
            if pendingLogLines.count > Self.logLineLimit { pendingLogLines.removeFirst(pendingLogLines.count - Self.logLineLimit) }
        }
        guard index != currentWindow, activity != .none else { return }
        windows[index].unread += 1
        if activity == .highlight { windows[index].isHighlighted = true }
    }
}
