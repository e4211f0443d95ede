/// Tab completion of the word before the cursor: commands (`/bl` → `/Block `), usernames
/// after `@` (`@bo` → `@bob `), and bare usernames (`bo` → `bob: ` at the start of the line,
/// `bob ` elsewhere). Pressing Tab again cycles through the other candidates.
public struct Completion: Sendable, Equatable {
    /// The words that can be completed.
    public struct Vocabulary: Sendable, Equatable {
        /// Command names without the slash, as they should be written ("Block").
        public var commands: [String]
        /// Users in order of preference (online first).
        public var users: [String]

        public init(commands: [String], users: [String]) {
            self.commands = commands
            self.users = users
        }
    }

    /// What the word before the cursor completes to, in order.
    public private(set) var candidates: [String]
    /// The candidate currently shown.
    public private(set) var index = 0
    /// The line without the word, split at the word.
    private let before: [Character]
    private let after: [Character]
    /// The line and cursor this completion produced last, to recognise a repeated Tab.
    public private(set) var result: (text: String, cursor: Int) = ("", 0)

    public static func == (lhs: Completion, rhs: Completion) -> Bool {
        lhs.candidates == rhs.candidates && lhs.index == rhs.index && lhs.before == rhs.before
            && lhs.after == rhs.after && lhs.result == rhs.result
    }

    /// Starts completing the word that ends at `cursor`, or returns `nil` when nothing matches.
    public init?(characters: [Character], cursor: Int, vocabulary: Vocabulary) {
        var start = cursor
        while start > 0, !characters[start - 1].isWhitespace { start -= 1 }
        let word = String(characters[start..<cursor])
        let atLineStart = characters[..<start].allSatisfy(\.isWhitespace)
        var completions: [String]
        if word.hasPrefix("/"), atLineStart {
            completions = Self.matching(String(word.dropFirst()), in: vocabulary.commands).map { "/" + $0 + " " }
        } else if word.hasPrefix("@") {
            completions = Self.matching(String(word.dropFirst()), in: vocabulary.users).map { "@" + $0 + " " }
        } else if !word.isEmpty {
            let suffix = atLineStart ? ": " : " "
            completions = Self.matching(word, in: vocabulary.users).map { $0 + suffix }
        } else {
            completions = []
        }
        // Keep whatever space already follows instead of adding a second one.
        if cursor < characters.count, characters[cursor] == " " {
            completions = completions.map { $0.hasSuffix(" ") ? String($0.dropLast()) : $0 }
        }
        guard !completions.isEmpty else { return nil }
        candidates = completions
        before = Array(characters[..<start])
        after = Array(characters[cursor...])
        result = Self.compose(before: before, candidate: completions[0], after: after)
    }

    /// Moves on to the next candidate (wrapping around).
    public mutating func advance() {
        index = (index + 1) % candidates.count
        result = Self.compose(before: before, candidate: candidates[index], after: after)
    }

    private static func compose(before: [Character], candidate: String, after: [Character]) -> (String, Int) {
        let head = String(before) + candidate
        return (head + String(after), head.count)
    }

    /// Names that start with `prefix`, ignoring case, without duplicates, in the given order.
    static func matching(_ prefix: String, in names: [String]) -> [String] {
        let lowered = prefix.lowercased()
        var seen = Set<String>()
        return names.filter { name in
            name.lowercased().hasPrefix(lowered) && seen.insert(name.lowercased()).inserted
        }
    }
}
