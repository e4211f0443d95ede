public import Foundation

/// Wall-clock times for the screen, in a given time zone (the user's by default).
public struct ClockFormat: Sendable {
    public let timeZone: TimeZone
    /// Whether messages' times show seconds ("14:05:09").
    public var showsSeconds: Bool

    public init(timeZone: TimeZone = .current, showsSeconds: Bool = false) {
        self.timeZone = timeZone
        self.showsSeconds = showsSeconds
    }

    /// A message's time: "14:05", or "14:05:09" with seconds.
    public func time(_ time: Int64) -> String {
        guard showsSeconds else { return hoursAndMinutes(time) }
        let seconds = localSeconds(time) % 60
        let positive = seconds < 0 ? seconds + 60 : seconds
        return hoursAndMinutes(time) + ":" + (positive < 10 ? "0" : "") + String(positive)
    }

    /// Columns of ``time(_:)``.
    public var timeWidth: Int { showsSeconds ? 8 : 5 }

    private func localSeconds(_ time: Int64) -> Int64 {
        time + Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(time))))
    }

    /// "14:05".
    public func hoursAndMinutes(_ time: Int64) -> String {
        let seconds = localSeconds(time)
        let minutes = (seconds / 60) % (24 * 60)
        let positive = minutes < 0 ? minutes + 24 * 60 : minutes
        let hour = positive / 60
        let minute = positive % 60
        return (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }

    /// A number that changes exactly when the local date does.
    public func day(_ time: Int64) -> Int64 {
        let seconds = localSeconds(time)
        return seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }

    /// "14 Nov 2023".
    public func shortDate(_ time: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "d MMM yyyy"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }

    /// "Tuesday 14 November 2023".
    public func date(_ time: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEEE d MMMM yyyy"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}
