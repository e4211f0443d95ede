import ChatClient
import ChatProtocol

/// Windows: which one a message goes to, their activity, switching, and /Query, /Close, /Win.
extension ChatScreen {
    /// How much an entry added to a window not shown matters, for the window bar.
    enum Activity: Sendable, Equatable {
        /// Notices, joins and leaves: nothing to mark.
        case none
        /// A message: counted.
        case message
        /// A mention or a direct message: counted and highlighted.
        case highlight
    }

    /// The window of the conversation with `name`, opened when there is none (and room for
    /// one); `nil` when the limit of windows is reached.
    mutating func queryWindow(for name: String) -> Int? {
        if let index = windows.firstIndex(where: { $0.isQuery(with: name) }) { return index }
        guard windows.count < Self.maximumWindows else { return nil }
        windows.append(ChatWindow(kind: .query(name), clock: clock))
        return windows.count - 1
    }

    /// The window for search results, opened when there is none.
    mutating func searchWindow() -> Int {
        if let index = windows.firstIndex(where: { $0.kind == .search }) { return index }
        if windows.count >= Self.maximumWindows { return 0 }
        windows.append(ChatWindow(kind: .search, clock: clock))
        return windows.count - 1
    }

    /// Puts a message where it belongs: a direct message in the window of the conversation
    /// (opened by it), anything else in the room. `live`: it arrived just now (not replayed
    /// history), so a direct message highlights its window and one sent from another window
    /// is also shown there, as sent.
    mutating func deliver(_ message: ChatMessage, highlight: MessageHighlight, live: Bool) {
        switch highlight {
        case .directToMe, .directFromMe:
            let peer = highlight == .directToMe ? message.source : message.destination
            guard let index = queryWindow(for: peer) else { break }
            // In the conversation's own window the [DM] tags say nothing.
            let shown: MessageHighlight = highlight == .directToMe ? .ordinary : .own
            let activity: Activity = highlight == .directToMe ? (live ? .highlight : .message) : .none
            append(.message(message, shown), time: message.timestamp, to: index, activity: activity)
            if live, highlight == .directFromMe, index != currentWindow {
                append(.message(message, .directFromMe), time: message.timestamp, to: currentWindow, activity: .none)
            }
            return
        case .server:
            // Answers to commands go where the command was typed.
            append(.message(message, highlight), time: message.timestamp, to: currentWindow, activity: .none)
            return
        default:
            break
        }
        append(.message(message, highlight), time: message.timestamp, to: 0, activity: highlight.isAlert ? .highlight : .message)
    }

    /// Shows window `index` and marks it read.
    public mutating func switchToWindow(_ index: Int) {
        guard windows.indices.contains(index) else { return }
        currentWindow = index
        windows[index].markRead()
    }

    /// The next window (`step` 1) or the previous one (-1), round the list.
    mutating func cycleWindows(by step: Int) {
        let count = windows.count
        switchToWindow(((currentWindow + step) % count + count) % count)
    }

    /// /Query, /Close and /Win; `nil` for other commands.
    mutating func runWindowCommand(_ word: String, operand: String?) -> [Effect]? {
        switch word {
        case "query":
            let usage = "Usage: /Query <username> [message]"
            guard let operand else {
                addNotice(usage)
                return []
            }
            var name = String(operand.prefix { !$0.isWhitespace })
            if name.hasPrefix("@") { name.removeFirst() }
            let text = operand.dropFirst(operand.prefix { !$0.isWhitespace }.count).drop { $0 == " " }
            guard !name.isEmpty else {
                addNotice(usage)
                return []
            }
            guard name.lowercased() != status.serverUser?.lowercased() else {
                addNotice("\(name) is the server: its answers show in the window where you typed the command.")
                return []
            }
            guard let index = queryWindow(for: name) else {
                addNotice("Too many windows are open (\(Self.maximumWindows)): /Close some first.")
                return []
            }
            switchToWindow(index)
            if windows[index].scrollback.entries.isEmpty {
                addNotice("Direct messages with \(TerminalSanitizer.sanitize(name)): what you type here goes to them only. /Close closes this window.")
            }
            return text.isEmpty ? [] : [.send("@" + name + " " + text)]
        case "close":
            var index = currentWindow
            if let operand {
                guard let number = Int(operand), windows.indices.contains(number - 1) else {
                    addNotice("Usage: /Close [N], N a window's number (1 to \(windows.count))")
                    return []
                }
                index = number - 1
            }
            guard index != 0 else {
                addNotice("Window 1 is the room: it stays open.")
                return []
            }
            windows.remove(at: index)
            if currentWindow >= index { switchToWindow(max(currentWindow == index ? index - 1 : currentWindow - 1, 0)) }
            return []
        case "win", "window":
            switch operand?.lowercased() {
            case "next"?: cycleWindows(by: 1)
            case "prev"?, "previous"?: cycleWindows(by: -1)
            case nil, "list"?:
                addNotice("Windows:")
                for (index, window) in windows.enumerated() {
                    var line = "  \(index + 1): \(TerminalSanitizer.sanitize(window.name))"
                    if index == currentWindow { line += " (shown)" } else if window.unread > 0 { line += " (\(window.unread) unread)" }
                    addNotice(line)
                }
            case let operand?:
                guard let number = Int(operand), windows.indices.contains(number - 1) else {
                    addNotice("Usage: /Win <N|next|prev|list>, N from 1 to \(windows.count)")
                    return []
                }
                switchToWindow(number - 1)
            }
            return []
        default:
            return nil
        }
    }

    /// The line to give the engine for text typed in the window shown: in a conversation
    /// it goes to that user; in the search window, nowhere (`nil`, with a notice).
    mutating func addressed(_ line: String) -> String? {
        switch windows[currentWindow].kind {
        case .room:
            return line
        case .query(let name):
            return "@" + name + " " + line
        case .search:
            addNotice("This window shows search results. Switch to the room (Alt-1) or a conversation to write.")
            return nil
        }
    }
}
