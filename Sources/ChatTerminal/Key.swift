/// A key press (or a paste), as decoded from the bytes a terminal sends.
public enum Key: Sendable, Equatable, Hashable {
    /// Text to insert.
    case text(String)
    /// Ctrl plus a letter (or `@ [ \ ] ^ _`), given as the lowercase letter: Ctrl-A is `ctrl("a")`.
    case ctrl(Character)
    /// Alt (Meta) plus a character: Alt-B is `alt("b")`.
    case alt(Character)
    case enter, tab, backTab, backspace, escape
    case up, down, left, right, home, end, pageUp, pageDown, insert, delete
    /// Ctrl-Left / Ctrl-Right: word jumps.
    case wordLeft, wordRight
    /// Alt-Left / Alt-Right: the previous and next window (irssi's keys).
    case altLeft, altRight
    /// F1…F12.
    case function(Int)
    /// Text pasted while bracketed paste was on: inserted as is, never run as keys.
    case paste(String)
    /// A sequence the decoder does not know (ignored).
    case unknown(String)
}
