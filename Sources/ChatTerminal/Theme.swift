import CNCurses

/// How each ``Style`` looks: colours for 256-colour terminals, a fallback for 8 colours, and
/// attributes only when the terminal has no colour at all.
struct Theme {
    struct Look: Hashable {
        var foreground: Int16 = -1
        var background: Int16 = -1
        var bold = false
        var underline = false
        var reverse = false
    }

    /// Name colours for 256-colour terminals: mid-bright, readable on dark and light backgrounds.
    static let palette256: [Int16] = [33, 37, 64, 94, 127, 130, 31, 65, 97, 166, 61, 132]
    /// Name colours for 8-colour terminals: red, green, yellow, blue, magenta, cyan.
    static let palette8: [Int16] = [1, 2, 3, 4, 5, 6]

    let colors: Int

    var paletteSize: Int { colors >= 256 ? Self.palette256.count : colors >= 8 ? Self.palette8.count : 1 }

    func look(_ style: Style) -> Look {
        if colors >= 256 { return look256(style) }
        if colors >= 8 { return look8(style) }
        return lookMonochrome(style)
    }

    private func look256(_ style: Style) -> Look {
        switch style {
        case .plain, .input: Look()
        case .timestamp: Look(foreground: 244)
        case .nick(let index): Look(foreground: Self.palette256[index % Self.palette256.count])
        case .ownNick: Look(bold: true)
        case .highlightNick: Look(foreground: 16, background: 220, bold: true)
        case .highlightText: Look(bold: true)
        case .directTag: Look(foreground: 170, bold: true)
        case .serverNick: Look(foreground: 37, bold: true)
        case .separator: Look(foreground: 240)
        case .quiet: Look(foreground: 244)
        case .info: Look(foreground: 37)
        case .notice: Look(foreground: 109)
        case .error: Look(foreground: 196, bold: true)
        case .bar: Look(foreground: 255, background: 24)
        case .barDim: Look(foreground: 110, background: 24)
        case .barAccent: Look(foreground: 255, background: 24, bold: true)
        case .barAlert: Look(foreground: 220, background: 24, bold: true)
        case .unreadMarker: Look(foreground: 16, background: 37, bold: true)
        case .prompt: Look(foreground: 37, bold: true)
        case .userListHeader: Look(bold: true, underline: true)
        case .userListRule: Look(foreground: 240)
        }
    }

    private func look8(_ style: Style) -> Look {
        switch style {
        case .plain, .input, .timestamp, .separator, .userListRule: Look()
        case .nick(let index): Look(foreground: Self.palette8[index % Self.palette8.count])
        case .ownNick, .highlightText: Look(bold: true)
        case .highlightNick: Look(foreground: 0, background: 3, bold: true)
        case .directTag: Look(foreground: 5, bold: true)
        case .serverNick: Look(foreground: 6, bold: true)
        case .quiet, .info, .notice: Look(foreground: 6)
        case .error: Look(foreground: 1, bold: true)
        case .bar, .barDim: Look(foreground: 7, background: 4)
        case .barAccent: Look(foreground: 7, background: 4, bold: true)
        case .barAlert: Look(foreground: 3, background: 4, bold: true)
        case .unreadMarker: Look(foreground: 0, background: 6, bold: true)
        case .prompt: Look(foreground: 6, bold: true)
        case .userListHeader: Look(bold: true, underline: true)
        }
    }

    private func lookMonochrome(_ style: Style) -> Look {
        switch style {
        case .bar, .barDim, .unreadMarker: Look(reverse: true)
        case .barAccent, .barAlert, .highlightNick: Look(bold: true, reverse: true)
        case .ownNick, .highlightText, .directTag, .error, .prompt, .serverNick: Look(bold: true)
        case .userListHeader: Look(underline: true)
        default: Look()
        }
    }
}

/// Colour pairs, made on first use (curses numbers every foreground/background combination).
struct ColorPairs {
    private var pairs: [Theme.Look: Int16] = [:]
    private var next: Int16 = 1
    let available: Bool

    init(available: Bool) {
        self.available = available
    }

    /// The attributes and pair number for `look`.
    mutating func attributes(for look: Theme.Look) -> (attr_t, Int16) {
        var attributes = chatterbox_attr_normal()
        if look.bold { attributes |= chatterbox_attr_bold() }
        if look.underline { attributes |= chatterbox_attr_underline() }
        if look.reverse { attributes |= chatterbox_attr_reverse() }
        guard available, look.foreground >= 0 || look.background >= 0 else { return (attributes, 0) }
        let key = Theme.Look(foreground: look.foreground, background: look.background)
        if let pair = pairs[key] { return (attributes, pair) }
        guard Int(next) < chatterbox_color_pairs() else { return (attributes, 0) }
        init_pair(next, look.foreground, look.background)
        pairs[key] = next
        next += 1
        return (attributes, next - 1)
    }
}
