import Foundation

/// Words as a search compares them, the same for every store and for a message and a query:
/// case, accents and character widths do not matter, anything but letters and digits separates
/// words (`bob@example.com` is three), and each character of a script written without spaces
/// (Chinese, Japanese, Korean) is a word of its own, so that 日本語 is found inside a sentence as
/// three adjacent words.
///
/// The stores index ``document(_:)`` rather than the raw content, so their own tokenizers (SQLite
/// FTS5's, PostgreSQL's parser) only split at the spaces put there, and both find the same
/// messages; a query's word becomes a phrase of ``words(in:)``.
public enum SearchText {
    /// The words of `text`, folded, separated by single spaces: what the stores index.
    public static func document(_ text: String) -> String {
        // Most chat is ASCII: its words need no Foundation (whose folding costs tens of
        // microseconds a message, on the indexer's thread, for every message stored).
        if isASCII(text) {
            var output: [UInt8] = []
            output.reserveCapacity(text.utf8.count)
            var inWord = false
            for byte in text.utf8 {
                if let folded = asciiWordByte(byte) {
                    if !inWord, !output.isEmpty { output.append(UInt8(ascii: " ")) }
                    output.append(folded)
                    inWord = true
                } else {
                    inWord = false
                }
            }
            return String(decoding: output, as: UTF8.self)
        }
        return words(in: text).joined(separator: " ")
    }

    /// A search's words (all must appear; one ending in `*` matches any word it starts), each as
    /// the phrase of folded words it holds and whether its last word is a prefix. Words with no
    /// letter or digit are left out.
    public static func phrases(_ searchWords: [String]) -> [(words: [String], prefix: Bool)] {
        searchWords.compactMap { word in
            let prefix = word.hasSuffix("*")
            let parts = words(in: prefix ? String(word.dropLast()) : word)
            return parts.isEmpty ? nil : (parts, prefix)
        }
    }

    /// Runs of letters and digits in `text`, folded; each character of an unspaced script alone.
    public static func words(in text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in text {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                appendFolded(current, to: &words)
                current = ""
            }
        }
        if !current.isEmpty { appendFolded(current, to: &words) }
        return words
    }

    /// Appends `word` folded (case, accents, widths), split into the characters of unspaced
    /// scripts and the runs between them.
    private static func appendFolded(_ word: String, to words: inout [String]) {
        guard !isASCII(word) else {
            words.append(word.lowercased())
            return
        }
        let folded = word.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        var run = ""
        for character in folded {
            if isUnspacedScript(character) {
                if !run.isEmpty { words.append(run); run = "" }
                words.append(String(character))
            } else if character.isLetter || character.isNumber {
                run.append(character)
            } else if !run.isEmpty {
                words.append(run)
                run = ""
            }
        }
        if !run.isEmpty { words.append(run) }
    }

    private static func isASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 < 0x80 }
    }

    /// An ASCII letter lowercased or a digit; `nil` for anything else (a separator).
    private static func asciiWordByte(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): byte
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte + 32
        default: nil
        }
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
