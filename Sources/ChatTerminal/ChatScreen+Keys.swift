import ChatClient

/// How the screen reacts to keys: editing, sending, scrolling, completion, its own commands.
extension ChatScreen {
    /// Reacts to one key.
    public mutating func handle(_ key: Key) -> [Effect] {
        if key != .tab { completion = nil }
        if let effects = handleSearchKey(key) { return effects }
        if key == nextWindowKey {
            cycleWindows(by: 1)
            return []
        }
        if key == previousWindowKey {
            cycleWindows(by: -1)
            return []
        }
        switch key {
        case .ctrl("r"): startSearch()
        case .text(let text), .paste(let text):
            editor.insert(text)
        case .enter:
            return submit()
        case .left, .ctrl("b"): editor.moveLeft()
        case .right, .ctrl("f"): editor.moveRight()
        case .home, .ctrl("a"): editor.moveToStart()
        case .end, .ctrl("e"): editor.moveToEnd()
        case .wordLeft, .alt("b"): editor.moveWordLeft()
        case .wordRight, .alt("f"): editor.moveWordRight()
        case .backspace, .ctrl("h"): editor.deleteBackward()
        case .delete, .ctrl("d"): editor.deleteForward()
        case .ctrl("k"): editor.killToEnd()
        case .ctrl("u"): editor.killToStart()
        case .ctrl("w"), .alt("\u{7F}"): editor.killWordBackward()
        case .alt("d"): editor.killWordForward()
        case .ctrl("y"): editor.yank()
        case .up: editor.historyPrevious()
        case .down: editor.historyNext()
        case .altRight: cycleWindows(by: 1)
        case .altLeft: cycleWindows(by: -1)
        case .alt(let character) where character.isASCII && character.isNumber:
            // Alt-1 … Alt-9 are windows 1 to 9, Alt-0 is window 10.
            let number = character.wholeNumberValue ?? 0
            switchToWindow(number == 0 ? 9 : number - 1)
        case .tab: complete()
        case .pageUp: return pageUp()
        case .pageDown: scroll(by: -max(lastPane.height - 2, 1))
        case .function(2), .alt("u"): showUserList.toggle()
        case .ctrl("l"): return [.repaint]
        case .ctrl("c"): return [.quit]
        default: break
        }
        return []
    }

    mutating func submit() -> [Effect] {
        if askingForSecret != nil {
            askingForSecret = nil
            return [.send(editor.submit(remember: false))]
        }
        // A password given inline stays out of the Up-arrow history too.
        let remember = !editor.text.lowercased().hasPrefix("/register")
        let line = editor.submit(remember: remember)
        if askingForUsername {
            guard !line.allSatisfy(\.isWhitespace) else { return [] }
            askingForUsername = false
            return [.send(line)]
        }
        guard !line.allSatisfy(\.isWhitespace) else { return [] }
        scrollback.scrollToBottom()
        if let effects = runLocalCommand(line) { return effects }
        // "/word" is a command wherever it is typed; "//text" is text.
        if line.hasPrefix("/"), !line.hasPrefix("//") { return [.send(line)] }
        return addressed(line).map { [.send($0)] } ?? []
    }

    /// `/Bell` and `/Clear`, which concern this screen only.
    mutating func runLocalCommand(_ line: String) -> [Effect]? {
        guard line.hasPrefix("/") else { return nil }
        let words = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard let word = words.first?.lowercased() else { return nil }
        let operand = line.dropFirst(1 + word.count).drop { $0 == " " }
        if let effects = runWindowCommand(word, operand: operand.isEmpty ? nil : String(operand)) { return effects }
        if let effects = runPersonalCommand(word, operand: operand.isEmpty ? nil : String(operand)) { return effects }
        switch word {
        case "bell":
            switch words.dropFirst().first?.lowercased() {
            case "on"?: bellEnabled = true
            case "off"?: bellEnabled = false
            case nil: bellEnabled.toggle()
            default:
                addNotice("Usage: /Bell [on|off]")
                return []
            }
            addNotice("The bell for direct messages and mentions is \(bellEnabled ? "on" : "off").")
            return []
        case "clear":
            scrollback.clear()
            layoutCache.rows = [:]
            return []
        default:
            return nil
        }
    }

    mutating func complete() {
        if var current = completion, current.result.text == editor.text, current.result.cursor == editor.cursor {
            current.advance()
            completion = current
        } else {
            let commands = ChatCommandNames.all + Self.localCommands + Self.engineCommands
            completion = Completion(characters: editor.characters, cursor: editor.cursor, vocabulary: .init(commands: commands, users: completionUsers))
        }
        if let completion { editor.setText(completion.result.text, cursor: completion.result.cursor) }
    }

    /// Names to complete: online users first, then everyone seen; never yourself or the server.
    var completionUsers: [String] {
        let me = status.username?.lowercased()
        let server = status.serverUser?.lowercased()
        let online = status.online.sorted { $0.lowercased() < $1.lowercased() }
        let others = status.everyoneSeen.filter { name in !online.contains(name) }.sorted { $0.lowercased() < $1.lowercased() }
        return (online + others).filter { $0.lowercased() != me && $0.lowercased() != server }
    }

    mutating func scroll(by rows: Int) {
        scrollback.scroll(by: rows, maximum: Int.max)
    }
}
