/// Words for connection news, shared by every user interface.
public enum ConnectionEventText {
    /// One sentence describing `event`; `host` and `port` are those of the server connected
    /// to, or last connected to (events that concern another server name it themselves).
    public static func describe(_ event: ConnectionEvent, host: String, port: Int) -> String {
        switch event {
        case .reconnecting(let attempt, let server):
            return "Reconnecting to \(server.spoken) (attempt \(attempt))…"
        case .connected(let server, let address, let security):
            return "Connected to \(server.spoken)\(at(address, of: server)) (\(security.description))."
        case .serverSkipped(let server, let address, let reason, let next):
            var text = address == nil ? sentence(reason) : "Could not connect to \(server.spoken)\(at(address, of: server)): " + sentence(reason)
            switch next {
            case nil: text += " Trying the next server…"
            case server?: text += " Trying its next address…"
            case let next?: text += " Trying \(next.spoken)…"
            }
            return text
        case .lost(let reason, nil):
            return sentence(reason)
        case .lost(let reason, let retryIn?):
            return sentence(reason) + " Reconnecting in \(seconds(retryIn)); what you type meanwhile is sent once you are back."
        case .attemptFailed(let reason, let retryIn):
            return "Could not reconnect: " + sentence(reason) + " Next try in \(seconds(retryIn))."
        case .backOnline(let username, let missed, let sent, let server):
            var text = "Back online as \(username) on \(server.spoken)."
            if missed > 0 { text += " \(missed) message\(missed == 1 ? "" : "s") arrived while you were away (shown above)." }
            if sent > 0 { text += " Sending the \(sent) line\(sent == 1 ? "" : "s") you typed meanwhile." }
            return text
        case .queuedLinesSent(let sent, let notSent):
            var text = "Sent the \(sent) line\(sent == 1 ? "" : "s") you typed while disconnected."
            if notSent > 0 { text += " \(notSent) could not be sent (the server kept refusing them)." }
            return text
        case .queued(let waiting):
            return "Not logged in: this line will be sent once you are (\(waiting) waiting)."
        case .queueFull(let limit):
            return "Not logged in, and \(limit) lines are already waiting: this line was not kept."
        }
    }

    /// Whether `event` is bad news (shown as an error rather than a notice).
    public static func isProblem(_ event: ConnectionEvent) -> Bool {
        switch event {
        case .lost, .attemptFailed, .queueFull, .serverSkipped: true
        case .queuedLinesSent(_, let notSent): notSent > 0
        default: false
        }
    }

    /// " at 192.0.2.7" when `address` ("192.0.2.7:9000") is not how `server` was written.
    static func at(_ address: String?, of server: ServerEndpoint) -> String {
        guard let address else { return "" }
        var ip = address
        if ip.hasPrefix("["), let close = ip.firstIndex(of: "]") {
            ip = String(ip[ip.index(after: ip.startIndex)..<close])
        } else if let colon = ip.lastIndex(of: ":") {
            ip = String(ip[..<colon])
        }
        return ip == server.host ? "" : " at \(ip)"
    }

    /// `text` ending in a full stop.
    static func sentence(_ text: String) -> String {
        guard let last = text.last, !".!?…".contains(last) else { return text }
        return text + "."
    }

    /// "0.5 s", "4 s".
    public static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        if value < 10, value != value.rounded() {
            return String(format: "%.1f s", value)
        }
        return "\(Int(value.rounded())) s"
    }
}
