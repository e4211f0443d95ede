import Foundation

/// Words as the PostgreSQL store's search compares them, folded the same way for a message and
/// for a query: case and accents do not matter, anything but letters and digits separates words,
/// and each character of a script written without spaces (Chinese, Japanese, Korean) is a word
/// of its own, so that a search for 日本語 finds it inside a sentence (as three adjacent words).
///
/// The folding happens here, not in PostgreSQL: `unaccent` is an extension some hosted
/// databases lack, and PostgreSQL's parser would keep `bob@example.com` as one word where the
/// SQLite store's tokenizer finds three.
enum SearchText {
    /// The words of `text`, folded, separated by single spaces: what `to_tsvector('simple', …)`
    /// indexes.
    static func document(_ text: String) -> String {
        words(in: text).joined(separator: " ")
    }

    /// The `tsquery` for `words` (a search's words: all must appear; one ending in `*` matches
    /// any word it starts), for `to_tsquery('simple', …)`; `nil` when nothing is left to search
    /// for. Each lexeme is quoted and holds only letters and digits: nothing a user types is
    /// read as query syntax.
    static func query(_ searchWords: [String]) -> String? {
        var terms: [String] = []
        for word in searchWords {
            let prefix = word.hasSuffix("*")
            let parts = words(in: prefix ? String(word.dropLast()) : word)
            guard !parts.isEmpty else { continue }
            var lexemes = parts.map { "'\($0)'" }
            if prefix { lexemes[lexemes.count - 1] += ":*" }
            terms.append(lexemes.count == 1 ? lexemes[0] : "(" + lexemes.joined(separator: " <-> ") + ")")
        }
        return terms.isEmpty ? nil : terms.joined(separator: " & ")
    }

    /// Runs of letters and digits in `text`, folded; each character of an unspaced script alone.
    static func words(in text: String) -> [String] {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        var words: [String] = []
        var current = ""
        for character in folded {
            if isUnspacedScript(character) {
                if !current.isEmpty { words.append(current); current = "" }
                words.append(String(character))
            } else if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Han ideographs, kana and Hangul: scripts written without spaces between words.
    private static func isUnspacedScript(_ character: Character) -> Bool {
        guard let scalar = character.unicodeScalars.first else { return false }
        switch scalar.value {
        case 0x3040...0x30FF,  // Hiragana, Katakana
             0x3400...0x4DBF,  // CJK Extension A
             0x4E00...0x9FFF,  // CJK Unified Ideographs
             0xAC00...0xD7AF,  // Hangul syllables
             0xF900...0xFAFF,  // CJK Compatibility Ideographs
             0x20000...0x3134F:  // CJK Extensions B–G
            return true
        default:
            return false
        }
    }
}
