import ChatClient
import ChatProtocol

/// What irssi and WeeChat users reach for: /me, /Away, /Highlight, /Filter and /Set.
extension ChatScreen {
    /// The commands of this file; `nil` for others.
    mutating func runPersonalCommand(_ word: String, operand: String?) -> [Effect]? {
        switch word {
        case "me":
            guard let action = operand else {
                addNotice("Usage: /Me <action>, for example /Me waves")
                return []
            }
            return sendAction(action)
        case "away":
            guard let operand else { return comeBack() }
            return goAway(operand)
        case "back":
            return comeBack()
        case "highlight":
            runHighlight(operand)
            return []
        case "filter":
            runFilter(operand)
            return []
        case "set":
            runSet(operand)
            return []
        case "save":
            return [.save(clientSettings)]
        default:
            return nil
        }
    }

    /// The line that sends `action` as the user's, in the window shown.
    mutating func sendAction(_ action: String) -> [Effect] {
        guard let name = status.username else {
            addNotice("You are not logged in yet.")
            return []
        }
        return addressed(ActionText.content(name: name, action: action)).map { [.send($0)] } ?? []
    }

    mutating func goAway(_ reason: String) -> [Effect] {
        awayReason = reason
        awayAnswered = []
        addNotice("You are marked away: \(reason). /Back (or /Away alone) when you return.")
        return broadcastAction(ActionText.away(reason))
    }

    mutating func comeBack() -> [Effect] {
        guard awayReason != nil else {
            addNotice("You are not away. /Away <reason> to say you are.")
            return []
        }
        awayReason = nil
        awayAnswered = []
        addNotice("You are back.")
        return broadcastAction(ActionText.back)
    }

    /// Away and back are said to everyone: other clients mark the user list with them.
    func broadcastAction(_ action: String) -> [Effect] {
        guard let name = status.username else { return [] }
        return [.send(ActionText.content(name: name, action: action))]
    }

    /// Takes in what a live message says: others' away and back, and the one answer owed to
    /// someone who writes while the user is away.
    mutating func react(to message: ChatMessage, highlight: MessageHighlight) -> [Effect] {
        if let action = ActionText.action(in: message), let presence = ActionText.presence(action), highlight != .own, highlight != .directFromMe {
            switch presence {
            case .away(let reason): awayUsers[message.source.lowercased()] = reason
            case .back: awayUsers[message.source.lowercased()] = nil
            }
        }
        guard highlight == .directToMe, let reason = awayReason, let name = status.username,
              message.source.lowercased() != name.lowercased(),
              awayAnswered.insert(message.source.lowercased()).inserted else { return [] }
        return [.send("@" + message.source + " " + ActionText.content(name: name, action: ActionText.away(reason) + " (automatic answer)"))]
    }

    mutating func runHighlight(_ operand: String?) {
        let words = operand?.split(separator: " ").map(String.init) ?? []
        switch (words.first?.lowercased(), words.count) {
        case (nil, _), ("list"?, 1):
            addNotice(highlightWords.isEmpty
                ? "No highlight words: only your name highlights a message. /Highlight add <word>"
                : "Highlight words: " + highlightWords.joined(separator: ", "))
        case ("add"?, 2):
            let word = words[1]
            if !highlightWords.contains(where: { $0.lowercased() == word.lowercased() }) { highlightWords.append(word) }
            addNotice("Messages containing \(TerminalSanitizer.sanitize(word)) are highlighted.")
        case ("remove"?, 2), ("del"?, 2):
            let word = words[1].lowercased()
            let before = highlightWords.count
            highlightWords.removeAll { $0.lowercased() == word }
            addNotice(before == highlightWords.count ? "\(TerminalSanitizer.sanitize(words[1])) is not a highlight word." : "\(TerminalSanitizer.sanitize(words[1])) no longer highlights.")
        default:
            addNotice("Usage: /Highlight [list | add <word> | remove <word>]")
        }
    }

    mutating func runFilter(_ operand: String?) {
        let words = operand?.lowercased().split(separator: " ").map(String.init) ?? []
        guard let what = words.first else {
            addNotice("Filters: joins and leaves are \(hideJoins ? "hidden" : "shown"). /Filter joins [on|off]")
            return
        }
        guard what == "joins", let setting = Self.onOff(words.dropFirst().first, current: hideJoins) else {
            addNotice("Usage: /Filter joins [on|off] (on hides joins and leaves)")
            return
        }
        hideJoins = setting
        addNotice("Joins and leaves are \(hideJoins ? "hidden" : "shown").")
    }

    /// `on`/`off` (or toggles `current` when nothing is given); `nil` for anything else.
    static func onOff(_ word: String?, current: Bool) -> Bool? {
        switch word?.lowercased() {
        case nil: !current
        case "on"?, "yes"?, "true"?: true
        case "off"?, "no"?, "false"?: false
        default: nil
        }
    }

    /// The settings /Set shows and changes, with their values now.
    var settings: [(name: String, value: String)] {
        [
            ("seconds", clock.showsSeconds ? "on" : "off"),
            ("bell", bellEnabled ? "on" : "off"),
            ("joins", hideJoins ? "hidden" : "shown"),
            ("userlist", showUserList ? "on" : "off"),
            ("highlight", highlightWords.joined(separator: " ")),
            ("theme", theme),
            ("logs", logsEnabled ? "on" : "off"),
        ]
    }

    mutating func runSet(_ operand: String?) {
        let words = operand?.split(separator: " ", maxSplits: 1).map(String.init) ?? []
        guard let name = words.first?.lowercased() else {
            addNotice("Settings (/Set NAME VALUE changes one; /Save keeps them):")
            for (name, value) in settings { addNotice("  \(name) = \(value)") }
            return
        }
        let value = words.count > 1 ? words[1] : nil
        guard let result = set(name, to: value) else {
            addNotice("Usage: /Set [\(settings.map(\.name).joined(separator: "|")) [value]]")
            return
        }
        addNotice(result)
    }

    /// Changes one setting; says what it is now, or `nil` when the name or value is wrong.
    mutating func set(_ name: String, to value: String?) -> String? {
        switch name {
        case "seconds":
            guard let on = Self.onOff(value, current: clock.showsSeconds) else { return nil }
            clock.showsSeconds = on
            for index in windows.indices { windows[index].layoutCache = LayoutCache() }
        case "bell":
            guard let on = Self.onOff(value, current: bellEnabled) else { return nil }
            bellEnabled = on
        case "joins":
            switch value?.lowercased() {
            case "hidden"?, "hide"?, "off"?: hideJoins = true
            case "shown"?, "show"?, "on"?: hideJoins = false
            case nil: hideJoins.toggle()
            default: return nil
            }
        case "userlist":
            guard let on = Self.onOff(value, current: showUserList) else { return nil }
            showUserList = on
        case "highlight":
            highlightWords = value?.split(separator: " ").map(String.init) ?? []
        case "theme":
            guard let value, ClientSettings.themes.contains(value.lowercased()) else { return nil }
            theme = value.lowercased()
            return "theme = \(theme) (from the next start; /Save keeps it)"
        case "logs":
            guard let on = Self.onOff(value, current: logsEnabled) else { return nil }
            logsEnabled = on
        default:
            return nil
        }
        return settings.first { $0.name == name }.map { "\($0.name) = \($0.value)" }
    }
}
