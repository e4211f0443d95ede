/// How many messages a server accepts from one user: `perSecond` sustained (0: no limit),
/// `burst` at once. Advertised in the login acceptance as
/// `"LIMITS": {"MESSAGES_PER_SECOND": 10, "MESSAGE_BURST": 20}`.
public struct MessageRate: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }

    /// Reads the `LIMITS` object; `nil` when it does not say.
    public init?(_ value: JSONValue) {
        guard case .object(let object) = value else { return nil }
        switch object["MESSAGES_PER_SECOND"] {
        case .integer(let rate)?: perSecond = Double(rate)
        case .number(let rate)?: perSecond = rate
        default: return nil
        }
        guard perSecond >= 0, perSecond.isFinite else { return nil }
        if case .integer(let burst)? = object["MESSAGE_BURST"], burst >= 1 {
            self.burst = Int(clamping: burst)
        } else {
            burst = 1
        }
    }

    /// The `LIMITS` object.
    public var jsonValue: JSONValue {
        let rate: JSONValue = perSecond == perSecond.rounded() && perSecond < 1e15 ? .integer(Int64(perSecond)) : .number(perSecond)
        return .object(JSONObject([.init(key: "MESSAGES_PER_SECOND", value: rate), .init(key: "MESSAGE_BURST", value: .integer(Int64(burst)))]))
    }
}
