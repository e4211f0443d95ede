import ChatStore

/// A search as PostgreSQL's full-text query (`to_tsquery('simple', …)`) over ``SearchText``'s
/// documents.
enum PostgresSearchQuery {
    /// The `tsquery` for `words` (all must appear; one ending in `*` matches any word it
    /// starts); `nil` when nothing is left to search for. Each lexeme is quoted and holds only
    /// letters and digits: nothing a user types is read as query syntax.
    static func make(_ words: [String]) -> String? {
        let terms = SearchText.phrases(words).map { phrase in
            var lexemes = phrase.words.map { "'\($0)'" }
            if phrase.prefix { lexemes[lexemes.count - 1] += ":*" }
            return lexemes.count == 1 ? lexemes[0] : "(" + lexemes.joined(separator: " <-> ") + ")"
        }
        return terms.isEmpty ? nil : terms.joined(separator: " & ")
    }
}
