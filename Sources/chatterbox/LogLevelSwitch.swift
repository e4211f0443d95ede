import Logging
import Synchronization

/// The server's log level, one for every logger of the process, changeable while it runs
/// (`log-level` at SIGHUP). Read at every log call: an atomic load.
final class LogLevelSwitch: Sendable {
    private let raw: Atomic<Int>

    init(_ level: Logger.Level) {
        raw = Atomic(Self.index(of: level))
    }

    var level: Logger.Level {
        get { Logger.Level.allCases[raw.load(ordering: .relaxed)] }
        set { raw.store(Self.index(of: newValue), ordering: .relaxed) }
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 2
    }
}

/// A log handler whose level is a ``LogLevelSwitch`` shared by every logger; the rest is
/// another handler's (text or JSON). A logger that sets its own level (a library's) keeps it
/// for itself: only the switch changes everyone's.
struct SwitchableLevelLogHandler: LogHandler {
    var inner: any LogHandler
    let levelSwitch: LogLevelSwitch
    private var ownLevel: Logger.Level?

    init(inner: any LogHandler, levelSwitch: LogLevelSwitch) {
        self.inner = inner
        self.levelSwitch = levelSwitch
    }

    var logLevel: Logger.Level {
        get { ownLevel ?? levelSwitch.level }
        set { ownLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
