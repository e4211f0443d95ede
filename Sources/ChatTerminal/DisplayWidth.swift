import CTerminalSupport

/// How many terminal columns text takes, as the terminal and ncurses count them: glibc's
/// `wcwidth` for every scalar (double-width CJK and emoji take 2 columns, combining marks 0).
public enum DisplayWidth {
    /// Columns for one scalar: 0, 1 or 2; -1 when it is not printable.
    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value < 0x7F { return value >= 0x20 ? 1 : -1 }
        return Int(chatterbox_wcwidth(value))
    }

    /// Columns for one character as drawn (see ``TerminalCell``).
    public static func of(_ character: Character) -> Int {
        // Every single ASCII scalar is drawn in one cell (control characters as U+FFFD).
        if character.asciiValue != nil, character.unicodeScalars.count == 1 { return 1 }
        return TerminalCell.cells(for: character).reduce(0) { $0 + $1.width }
    }

    /// Columns for a string as drawn.
    public static func of(_ text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + of($1) }
    }
}

/// One terminal cell (or two, for a double-width character): a spacing scalar followed by the
/// zero-width scalars that combine with it. This is exactly what the screen draws, so width
/// computation and drawing can never disagree.
public struct TerminalCell: Sendable, Equatable {
    /// The scalars drawn in this cell, spacing scalar first.
    public var scalars: [Unicode.Scalar]
    /// 1 or 2 columns.
    public var width: Int

    public init(scalars: [Unicode.Scalar], width: Int) {
        self.scalars = scalars
        self.width = width
    }

    /// ncurses keeps at most this many scalars per cell; more combining marks (as in "Zalgo"
    /// text, which would smear over neighbouring lines) are dropped.
    public static let maximumScalars = 5
    /// Base shown for combining marks with nothing to combine with.
    static let dottedCircle: Unicode.Scalar = "\u{25CC}"
    /// Stands in for anything the terminal cannot print.
    static let replacement: Unicode.Scalar = "\u{FFFD}"

    /// The cells that draw `character`. Control characters and other unprintable scalars
    /// become U+FFFD, so nothing drawn can act on the terminal.
    public static func cells(for character: Character) -> [TerminalCell] {
        if let ascii = character.asciiValue, character.unicodeScalars.count == 1 {
            let printable = ascii >= 0x20 && ascii < 0x7F
            return [TerminalCell(scalars: [printable ? Unicode.Scalar(ascii) : replacement], width: 1)]
        }
        var cells: [TerminalCell] = []
        for scalar in character.unicodeScalars {
            let width = DisplayWidth.of(scalar)
            if width > 0 {
                cells.append(TerminalCell(scalars: [scalar], width: width))
            } else if width == 0 {
                if cells.isEmpty {
                    cells.append(TerminalCell(scalars: [dottedCircle, scalar], width: 1))
                } else if cells[cells.count - 1].scalars.count < maximumScalars {
                    cells[cells.count - 1].scalars.append(scalar)
                }
            } else {
                cells.append(TerminalCell(scalars: [replacement], width: 1))
            }
        }
        return cells
    }
}
