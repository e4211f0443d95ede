import ChatClient

/// The title bar (server and its welcome, key hints) and the status bar (clock, name, server
/// and security, users online, unread direct messages, connection state).
enum StatusBars {
    static func title(_ screen: ChatScreen, width: Int) -> ScreenRow {
        let status = screen.status
        // The server's greeting would go stale ("3 online"); where we are does not.
        let headline = TerminalSanitizer.sanitize(status.server.spoken)
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
        if screen.unreadDirectMessages > 0 {
            let count = screen.unreadDirectMessages
            items.append([Span("\(count) unread DM\(count == 1 ? "" : "s")", .barAlert)])
        }
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
    static func rows(status: ClientStatus, paletteSize: Int, area: ScreenLayout.Area) -> [ScreenRow] {
        let names = status.online.sorted { $0.lowercased() < $1.lowercased() }
        let me = status.username?.lowercased()
        let width = area.width - 2
        var rows: [ScreenRow] = [ScreenRow([Span("│", .userListRule), Span(" ", .plain)] + TextWrapper.truncate([Span("Users (\(names.count))", .userListHeader)], width: width))]
        let room = area.height - 1
        let shown = names.count > room ? max(room - 1, 0) : names.count
        for name in names.prefix(shown) {
            let style: Style = name.lowercased() == me ? .ownNick : .nick(NickColor.index(for: name, paletteSize: paletteSize))
            var shownName = TerminalSanitizer.sanitize(name)
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
