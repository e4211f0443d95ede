import ChatClient

/// The title bar (server and its welcome, key hints) and the status bar (clock, name, server
/// and security, users online, unread direct messages, connection state).
enum StatusBars {
    static func title(_ screen: ChatScreen, width: Int) -> ScreenRow {
        let status = screen.status
        // The server's greeting would go stale ("3 online"); where we are does not.
        var headline = TerminalSanitizer.sanitize(status.server.spoken)
        let window = screen.windows[screen.currentWindow]
        switch window.kind {
        case .room: break
        case .query(let name): headline += " · direct messages with " + TerminalSanitizer.sanitize(name)
        case .search: headline += " · search results"
        }
        let left: [Span] = [Span(" Chatterbox ", .barAccent), Span("· " + headline, .bar)]
        let hints = [Span("F2 users · PgUp/PgDn · /Help ", .barDim)]
        let leftWidth = left.reduce(0) { $0 + DisplayWidth.of($1.text) }
        let hintsWidth = hints.reduce(0) { $0 + DisplayWidth.of($1.text) }
        if leftWidth + 2 + hintsWidth <= width {
            let gap = Span(String(repeating: " ", count: width - leftWidth - hintsWidth), .bar)
            return ScreenRow(left + [gap] + hints, fill: .bar)
        }
        return ScreenRow(TextWrapper.truncate(left, width: width), fill: .bar)
    }

    /// Items in order of importance; those that do not fit the width are left out whole.
    static func status(_ screen: ChatScreen, width: Int, now: Int64, clock: ClockFormat) -> ScreenRow {
        let status = screen.status
        var items: [[Span]] = []
        items.append([Span(clock.hoursAndMinutes(now), .bar)])
        if let name = status.username {
            items.append([Span(TerminalSanitizer.sanitize(name), .barAccent)])
        }
        items.append(phase(of: screen, now: ContinuousClock.now))
        if status.queuedLines > 0 {
            items.append([Span("\(status.queuedLines) waiting to send", .barAlert)])
        }
        if status.isOnline {
            items.append([Span("\(status.online.count) online", .bar)])
        }
        let security: Span = switch status.security {
        case .verifiedTLS: Span("TLS", .bar)
        case .unverifiedTLS: Span("TLS unverified", .barAlert)
        case .plaintext: Span("NOT encrypted", .barAlert)
        }
        // The server actually in use, which changes when the client moves to another.
        items.append([Span(TerminalSanitizer.sanitize(status.server.description) + " ", .bar), security])
        if screen.awayReason != nil {
            items.append([Span("away", .barAlert)])
        }
        if !screen.bellEnabled {
            items.append([Span("bell off", .barDim)])
        }
        var spans: [Span] = [Span(" ", .bar)]
        var used = 1
        for item in items {
            let itemSpans = [Span("[", .barDim)] + item + [Span("] ", .barDim)]
            let itemWidth = itemSpans.reduce(0) { $0 + DisplayWidth.of($1.text) }
            guard used + itemWidth <= width + 1 else { continue }
            spans += itemSpans
            used += itemWidth
        }
        return ScreenRow(TextWrapper.truncate(spans, width: width), fill: .bar)
    }

    /// Each window's number and name, the one shown in brackets, the others with their
    /// unread count; highlighted when they hold a mention or a direct message. When the names
    /// do not fit, quiet windows shrink to their number, then go.
    static func windows(_ screen: ChatScreen, width: Int) -> ScreenRow {
        func item(_ index: Int, named: Bool) -> [Span] {
            let window = screen.windows[index]
            let name = named ? ":" + TerminalSanitizer.sanitize(window.name) : ""
            if index == screen.currentWindow { return [Span("[\(index + 1)\(name)]", .barAccent)] }
            let count = window.unread > 0 ? "(\(window.unread))" : ""
            return [Span("\(index + 1)\(named || window.unread > 0 ? name : "")\(count)", window.isHighlighted ? .barAlert : window.unread > 0 ? .bar : .barDim)]
        }
        func fits(_ items: [[Span]]) -> Bool {
            items.reduce(0) { $0 + $1.reduce(0) { $0 + DisplayWidth.of($1.text) } + 1 } + 1 <= width
        }
        let indices = Array(screen.windows.indices)
        let busy = { (index: Int) in index == screen.currentWindow || screen.windows[index].unread > 0 }
        var items = indices.map { item($0, named: true) }
        if !fits(items) { items = indices.map { item($0, named: busy($0)) } }
        if !fits(items) { items = indices.filter(busy).map { item($0, named: true) } }
        if !fits(items) { items = indices.filter(busy).map { item($0, named: $0 == screen.currentWindow) } }
        var spans: [Span] = [Span(" ", .bar)]
        for item in items { spans += item + [Span(" ", .bar)] }
        return ScreenRow(TextWrapper.truncate(spans, width: width), fill: .bar)
    }

    static func phase(of screen: ChatScreen, now: ContinuousClock.Instant) -> [Span] {
        switch screen.status.phase {
        case .connecting:
            return [Span("connecting…", .barAlert)]
        case .loggingIn:
            return [Span(screen.askingForUsername ? "choose a name" : "logging in…", .barAlert)]
        case .online:
            return [Span("connected", .barAccent)]
        case .waitingToReconnect(let retryAt):
            let seconds = max(0, Int((retryAt - now) / .seconds(1) + 0.999))
            return [Span("disconnected · retry in \(seconds)s", .barAlert)]
        case .closed:
            return [Span("closed", .barAlert)]
        }
    }
}

/// The list of users online, beside the messages.
enum UserListPane {
    /// Names of users away (by lowercased name) are drawn dimmed, with "(away)" where it fits.
    static func rows(status: ClientStatus, away: Set<String> = [], paletteSize: Int, area: ScreenLayout.Area) -> [ScreenRow] {
        let names = status.online.sorted { $0.lowercased() < $1.lowercased() }
        let me = status.username?.lowercased()
        let width = area.width - 2
        var rows: [ScreenRow] = [ScreenRow([Span("│", .userListRule), Span(" ", .plain)] + TextWrapper.truncate([Span("Users (\(names.count))", .userListHeader)], width: width))]
        let room = area.height - 1
        let shown = names.count > room ? max(room - 1, 0) : names.count
        for name in names.prefix(shown) {
            let isAway = away.contains(name.lowercased())
            let style: Style = isAway ? .quiet : name.lowercased() == me ? .ownNick : .nick(NickColor.index(for: name, paletteSize: paletteSize))
            var shownName = TerminalSanitizer.sanitize(name)
            if isAway, DisplayWidth.of(shownName) + 7 <= width { shownName += " (away)" }
            // Cut with an ellipsis, so that a cut name is seen to be one.
            if DisplayWidth.of(shownName) > width, width > 1 {
                shownName = TextWrapper.truncate([Span(shownName, style)], width: width - 1).map(\.text).joined() + "…"
            }
            rows.append(ScreenRow([Span("│", .userListRule), Span(" ", .plain)] + TextWrapper.truncate([Span(shownName, style)], width: width)))
        }
        if names.count > shown, room > 0 {
            rows.append(ScreenRow([Span("│", .userListRule), Span(" +\(names.count - shown) more", .quiet)]))
        }
        while rows.count < area.height { rows.append(ScreenRow([Span("│", .userListRule)])) }
        return Array(rows.prefix(area.height))
    }
}
