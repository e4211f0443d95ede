import NIOCore

/// What one user's expensive requests (searches, history pages, file listings) may cost the
/// server: at most a few waiting or running at once, and a budget of the request threads' time,
/// refilled at a steady rate and charged by what each request actually took (issue 21, item 1).
/// A request over either gets "busy, try again" at once, without costing anything.
struct RequestBudget {
    /// Why a request was not admitted.
    enum Refusal: Equatable {
        /// `count` requests of this user are waiting or running.
        case tooMany(Int)
        /// The user's time is spent; more accrues in `wait`.
        case spent(wait: TimeAmount)
    }

    let maximumInFlight: Int
    private(set) var inFlight = 0
    /// Milliseconds of request-thread time.
    private var time: TokenBucket

    /// `perSecond` of request-thread time accrues each second up to `burst`; `maximumInFlight`
    /// 0 switches the budget off.
    init(maximumInFlight: Int, perSecond: Duration, burst: Duration, now: NIODeadline = .now()) {
        self.maximumInFlight = maximumInFlight
        time = TokenBucket(
            rate: maximumInFlight == 0 ? 0 : max(1e-6, Self.milliseconds(perSecond)),
            burst: Int(max(1, Self.milliseconds(burst))),
            now: now
        )
    }

    /// Admits a request (it counts as in flight until ``finish(cost:now:)``), or says why not.
    mutating func admit(now: NIODeadline = .now()) -> Refusal? {
        guard maximumInFlight > 0 else { return nil }
        guard inFlight < maximumInFlight else { return .tooMany(inFlight) }
        guard time.hasToken(now: now) else { return .spent(wait: time.timeUntilToken(now: now)) }
        inFlight += 1
        return nil
    }

    /// A request admitted earlier is done; it took `cost` of a request thread's time.
    mutating func finish(cost: Duration, now: NIODeadline = .now()) {
        guard maximumInFlight > 0 else { return }
        inFlight = max(0, inFlight - 1)
        time.charge(Self.milliseconds(cost), now: now)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}

extension RequestBudget.Refusal {
    /// The ERROR a refused request is answered with.
    var text: String {
        switch self {
        case .tooMany(let count):
            "Busy: your last \(count) searches, history pages or file listings are still being answered; try again once they are."
        case .spent(let wait):
            "Busy: your searches, history pages and file listings have used the server time allowed for now; try again in \(max(1, Int((Double(wait.nanoseconds) / 1e9).rounded(.up)))) s."
        }
    }
}
