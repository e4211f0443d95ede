import CNCurses
import CTerminalSupport
import Foundation

/// The terminal through ncursesw: terminfo-driven output, colours, wide characters, resizing.
/// It only draws: keys are read from the file descriptor by ``KeyReader``, so no curses call
/// ever happens off the UI loop. Not thread-safe; owned by the UI loop.
final class CursesTerminal {
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private let theme: Theme
    private var pairs: ColorPairs
    private var looks: [Style: (attr_t, Int16)] = [:]
    private(set) var rows: Int
    private(set) var columns: Int
    private var ended = false

    /// `maximumColors`: the theme's cap (8 for the basic colours, 0 for none).
    init(maximumColors: Int = Int.max) throws {
        setlocale(LC_ALL, "")
        // Curses writes UTF-8 only under a UTF-8 locale; a terminal under "C" still gets it.
        if String(cString: nl_langinfo(nl_item(CODESET))) != "UTF-8" {
            setlocale(LC_CTYPE, "C.UTF-8")
        }
        guard let output = fdopen(1, "w"), let input = fdopen(0, "r") else {
            throw TerminalUnavailable(description: "cannot open the terminal")
        }
        guard let screen = newterm(nil, output, input) else {
            throw TerminalUnavailable(description: "the terminal type \(ProcessInfo.processInfo.environment["TERM"] ?? "(unset)") is unknown to terminfo")
        }
        self.screen = screen
        set_term(screen)
        guard let window = chatterbox_stdscr() else { throw TerminalUnavailable(description: "curses has no screen") }
        self.window = window
        raw()
        noecho()
        nonl()
        intrflush(window, false)
        keypad(window, true)
        curs_set(1)
        var colors = 0
        if has_colors() {
            start_color()
            use_default_colors()
            colors = min(Int(chatterbox_colors()), maximumColors)
        }
        theme = Theme(colors: colors)
        pairs = ColorPairs(available: colors >= 8)
        rows = Int(getmaxy(window))
        columns = Int(getmaxx(window))
        // Bracketed paste: pasted text arrives marked, so it is inserted, never run as keys.
        doupdate()
        Self.writeDirectly("\u{1B}[?2004h")
    }

    deinit {
        end()
    }

    /// Colours available for names.
    var paletteSize: Int { theme.paletteSize }

    /// Gives the terminal back as it was.
    func end() {
        guard !ended else { return }
        ended = true
        Self.writeDirectly("\u{1B}[?2004l")
        endwin()
        delscreen(screen)
    }

    /// Adopts the terminal's new size after SIGWINCH.
    func resize() {
        var newRows: Int32 = 0
        var newColumns: Int32 = 0
        guard chatterbox_terminal_size(1, &newRows, &newColumns) == 0, newRows > 0, newColumns > 0 else { return }
        resizeterm(newRows, newColumns)
        rows = Int(getmaxy(window))
        columns = Int(getmaxx(window))
    }

    func bell() {
        beep()
    }

    /// The next draw repaints every cell (Ctrl-L, or after something else wrote to the terminal).
    func repaint() {
        clearok(window, true)
    }

    /// Draws `image`; curses sends only the cells that changed.
    func draw(_ image: ScreenImage) {
        werase(window)
        for (rowIndex, row) in image.rows.enumerated() where rowIndex < rows {
            wmove(window, Int32(rowIndex), 0)
            var column = 0
            for span in row.spans {
                let (attributes, pair) = look(span.style)
                for character in span.text {
                    for cell in TerminalCell.cells(for: character) {
                        guard column + cell.width <= columns else { break }
                        put(cell.scalars, attributes, pair)
                        column += cell.width
                    }
                }
            }
            if column < columns, row.fill != .plain {
                let (attributes, pair) = look(row.fill)
                while column < columns {
                    put([" "], attributes, pair)
                    column += 1
                }
            }
        }
        if let cursor = image.cursor {
            wmove(window, Int32(cursor.row), Int32(cursor.column))
            curs_set(1)
        } else {
            curs_set(0)
        }
        wnoutrefresh(window)
        doupdate()
    }

    private func put(_ scalars: [Unicode.Scalar], _ attributes: attr_t, _ pair: Int16) {
        var characters = scalars.map { wchar_t(bitPattern: $0.value) }
        characters.append(0)
        var cell = cchar_t()
        setcchar(&cell, characters, attributes, pair, nil)
        // At the bottom-right corner curses reports an error after drawing: nothing to do.
        _ = wadd_wch(window, &cell)
    }

    private func look(_ style: Style) -> (attr_t, Int16) {
        if let known = looks[style] { return known }
        let made = pairs.attributes(for: theme.look(style))
        looks[style] = made
        return made
    }

    /// Key strings from the terminal's terminfo entry, for the key decoder.
    func terminfoKeys() -> [[UInt8]: Key] {
        var capabilities: [(String, Key)] = [
            ("kcuu1", .up), ("kcud1", .down), ("kcub1", .left), ("kcuf1", .right),
            ("khome", .home), ("kend", .end), ("kpp", .pageUp), ("knp", .pageDown),
            ("kdch1", .delete), ("kich1", .insert), ("kcbt", .backTab),
            ("kLFT5", .wordLeft), ("kRIT5", .wordRight), ("kLFT3", .altLeft), ("kRIT3", .altRight),
        ]
        for number in 1...12 { capabilities.append(("kf\(number)", .function(number))) }
        var keys: [[UInt8]: Key] = [:]
        for (name, key) in capabilities {
            guard let value = tigetstr(name), Int(bitPattern: value) != -1 else { continue }
            let bytes = Array(String(cString: value).utf8)
            // Only escape sequences: single bytes (Backspace, Tab) are decoded directly.
            if bytes.count > 1, bytes.first == 0x1B { keys[bytes] = key }
        }
        return keys
    }

    /// Writes to the terminal around curses (which has flushed its own output by then).
    private static func writeDirectly(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Foundation.write(1, $0.baseAddress, $0.count) }
    }
}
