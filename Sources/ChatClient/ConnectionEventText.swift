/// Words for connection news, shared by every user interface.
public enum ConnectionEventText {
    /// One sentence describing `event` for a connection to `host` port `port`.
    public static func describe(_ event: ConnectionEvent, host: String, port: Int) -> String {
        switch event {
        case .reconnecting(let attempt):
            return "Reconnecting to \(host) port \(port) (attempt \(attempt))…"
        case .connected(_, let security):
            return "Connected to \(host) port \(port) (\(security.description))."
        case .lost(let reason, nil):
            return sentence(reason)
        case .lost(let reason, let retryIn?):
            return sentence(reason) + " Reconnecting in \(seconds(retryIn)); what you type meanwhile is sent once you are back."
        case .attemptFailed(let reason, let retryIn):
            return "Could not reconnect: " + sentence(reason) + " Next try in \(seconds(retryIn))."
        case .backOnline(let username, let missed, let sent):
            var text = "Back online as \(username)."
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
        case .lost, .attemptFailed, .queueFull: true
        case .queuedLinesSent(_, let notSent): notSent > 0
        default: false
        }
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
