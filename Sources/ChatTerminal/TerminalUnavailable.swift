/// The terminal cannot be used full screen (no terminfo entry for `TERM`, for example); the
/// caller can fall back to line mode.
public struct TerminalUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
