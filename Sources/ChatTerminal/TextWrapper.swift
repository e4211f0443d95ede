/// Breaks styled text into rows of at most a given number of columns: at spaces where
/// possible, inside a word only when the word alone is wider than a row, and at every line
/// break. A double-width character never straddles the edge.
public enum TextWrapper {
    /// - Parameter firstWidth: columns of the first row when it differs from the others.
    public static func wrap(_ spans: [Span], width: Int, firstWidth: Int? = nil) -> [[Span]] {
        let width = max(width, 2)
        var limit = max(firstWidth ?? width, 2)
        var rows: [[(Character, Style)]] = []
        var current: [(Character, Style)] = []
        var currentWidth = 0
        /// Index in `current` just after the last space: where the row may break.
        var breakIndex: Int?

        func finishRow() {
            // Spaces at the end of a row are invisible; dropping them keeps rows comparable.
            while current.last?.0 == " " { current.removeLast() }
            rows.append(current)
            current = []
            currentWidth = 0
            breakIndex = nil
            limit = width
        }

        for span in spans {
            for character in span.text {
                if character == "\n" {
                    finishRow()
                    continue
                }
                let characterWidth = DisplayWidth.of(character)
                if currentWidth + characterWidth > limit {
                    if character == " " {
                        // The space at the break is not carried to the next row.
                        finishRow()
                        continue
                    }
                    if let index = breakIndex, index > 0, index < current.count {
                        let carried = Array(current[index...])
                        current.removeSubrange(index...)
                        finishRow()
                        current = carried
                        currentWidth = carried.reduce(0) { $0 + DisplayWidth.of($1.0) }
                    } else {
                        finishRow()
                    }
                }
                current.append((character, span.style))
                currentWidth += characterWidth
                if character == " " { breakIndex = current.count }
            }
        }
        if !current.isEmpty || rows.isEmpty { rows.append(current) }
        return rows.map(group)
    }

    /// Consecutive characters of one style become one span.
    static func group(_ characters: [(Character, Style)]) -> [Span] {
        var spans: [Span] = []
        for (character, style) in characters {
            if let last = spans.last, last.style == style {
                spans[spans.count - 1].text.append(character)
            } else {
                spans.append(Span(String(character), style))
            }
        }
        return spans
    }

    /// `spans` cut to at most `width` columns (bars and one-line fields).
    public static func truncate(_ spans: [Span], width: Int) -> [Span] {
        var result: [Span] = []
        var used = 0
        for span in spans {
            var text = ""
            for character in span.text {
                let characterWidth = DisplayWidth.of(character)
                guard used + characterWidth <= width else {
                    if !text.isEmpty { result.append(Span(text, span.style)) }
                    return result
                }
                text.append(character)
                used += characterWidth
            }
            if !text.isEmpty { result.append(Span(text, span.style)) }
        }
        return result
    }

    /// `text` padded with spaces on the left to `width` columns (right-aligned names).
    public static func padLeft(_ text: String, to width: Int) -> String {
        let missing = width - DisplayWidth.of(text)
        return missing > 0 ? String(repeating: " ", count: missing) + text : text
    }
}
