import ArgumentParser
import NIOCore

/// A duration on the command line: a number of seconds, or a number with a unit: `90s`,
/// `10m`, `12h`, `30d`. Plain numbers stay seconds, as the older flags took them.
struct DurationArgument: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let seconds: Int64

    init(seconds: Int64) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var digits = Substring(argument)
        var unit: Int64 = 1
        if let last = digits.last, let multiplier = units[last] {
            unit = multiplier
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int64(digits), value >= 0,
              value <= Int64.max / 1_000_000_000 / unit
        else { return nil }
        seconds = value * unit
    }

    var timeAmount: TimeAmount { .seconds(seconds) }

    var description: String {
        if seconds > 0, seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds > 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds > 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    var defaultValueDescription: String { description }
}
