/// Why a store call did not run, or did not finish.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store is closed or closing: no call starts any more, and reads under way are stopped.
    case closed
    /// The query ran past its time limit (``PageRequest/timeLimit``) and was stopped.
    case timeLimitExceeded(Duration)

    public var description: String {
        switch self {
        case .closed: "the store is closed"
        case .timeLimitExceeded(let limit): "the query was stopped after \(limit)"
        }
    }
}
