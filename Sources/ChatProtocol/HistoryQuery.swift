/// A request for older history (`HISTORY`) or a full-text search (`SEARCH`), feature
/// `history` (PROTOCOL.md, *History paging and search*).
public struct HistoryQuery: Sendable, Equatable {
    /// Messages per page unless `LIMIT` says otherwise, and the most a page may hold.
    public static let defaultLimit = 50
    public static let maximumLimit = 200
    /// Longest search text, in UTF-8 bytes, and most words in it.
    public static let maximumQueryBytes = 256
    public static let maximumWords = 16

    /// Only messages older than this cursor (from an earlier reply); `nil` for the newest.
    public var before: Int64?
    public var limit: Int
    /// The search text as given, for `SEARCH`; `nil` for `HISTORY`.
    public var query: String?

    public init(before: Int64? = nil, limit: Int = HistoryQuery.defaultLimit, query: String? = nil) {
        self.before = before
        self.limit = limit
        self.query = query
    }

    /// The search words: white-space separated, at least one.
    public var words: [String]? {
        query.map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
    }

    /// Reads the value of `HISTORY` (`search` false) or `SEARCH` (`search` true), or says what
    /// is wrong with it.
    public static func parse(_ value: JSONValue, search: Bool) -> Result<HistoryQuery, Problem> {
        let key = search ? "SEARCH" : "HISTORY"
        guard case .object(let object) = value else {
            return .failure(Problem("\(key) must be an object, got \(value.typeDescription)."))
        }
        var parsed = HistoryQuery()
        for member in object.members {
            switch (member.key, member.value) {
            case ("BEFORE", .null):
                break
            case ("BEFORE", .integer(let cursor)) where cursor >= 1:
                parsed.before = cursor
            case ("BEFORE", _):
                return .failure(Problem("\(key).BEFORE must be a positive integer from an earlier reply (or null)."))
            case ("LIMIT", .integer(let limit)) where (1...Int64(maximumLimit)).contains(limit):
                parsed.limit = Int(limit)
            case ("LIMIT", _):
                return .failure(Problem("\(key).LIMIT must be an integer from 1 to \(maximumLimit)."))
            case ("QUERY", .string(let text)) where search:
                parsed.query = text
            case ("QUERY", _) where search:
                return .failure(Problem("SEARCH.QUERY must be a string."))
            default:
                return .failure(Problem("\(key) has an unknown member \"\(member.key)\"."))
            }
        }
        if search {
            guard let query = parsed.query else { return .failure(Problem("SEARCH needs a QUERY: the words to look for.")) }
            if let problem = queryProblem(query) { return .failure(Problem(problem)) }
        }
        return .success(parsed)
    }

    /// What is wrong with search text, if anything.
    public static func queryProblem(_ text: String) -> String? {
        let words = text.split(whereSeparator: \.isWhitespace)
        if words.allSatisfy({ $0.allSatisfy { $0 == "*" || $0 == "\"" } }) { return "Search for at least one word." }
        if text.utf8.count > maximumQueryBytes { return "Search text is limited to \(maximumQueryBytes) bytes." }
        if words.count > maximumWords { return "Search for at most \(maximumWords) words." }
        return nil
    }

    /// The request as a frame member value (`HISTORY` or `SEARCH`).
    public var jsonValue: JSONValue {
        var members: [JSONObject.Member] = []
        if let query { members.append(.init(key: "QUERY", value: .string(query))) }
        if let before { members.append(.init(key: "BEFORE", value: .integer(before))) }
        members.append(.init(key: "LIMIT", value: .integer(Int64(limit))))
        return .object(JSONObject(members))
    }

    /// A mistake in a request, to send back as ERROR.
    public struct Problem: Error, Sendable, Equatable {
        public var text: String
        public init(_ text: String) { self.text = text }
    }
}

/// What a server says about a page of history or search results it sends in the same frame's
/// `MESSAGES` (the value of `HISTORY` or `SEARCH` in a reply).
public struct HistoryPageInfo: Sendable, Equatable {
    /// The cursor for the next older page; `nil` when the page is empty.
    public var before: Int64?
    /// Whether older messages (or matches) exist.
    public var more: Bool
    /// The search text, for search results.
    public var query: String?

    public init(before: Int64?, more: Bool, query: String? = nil) {
        self.before = before
        self.more = more
        self.query = query
    }

    public var jsonValue: JSONValue {
        var members: [JSONObject.Member] = []
        if let query { members.append(.init(key: "QUERY", value: .string(query))) }
        members.append(.init(key: "BEFORE", value: before.map(JSONValue.integer) ?? .null))
        members.append(.init(key: "MORE", value: .bool(more)))
        return .object(JSONObject(members))
    }

    /// Reads a reply's `HISTORY` or `SEARCH` value leniently (a client).
    public init?(_ value: JSONValue) {
        guard case .object(let object) = value else { return nil }
        if case .integer(let cursor)? = object["BEFORE"] { before = cursor } else { before = nil }
        more = object["MORE"] == .bool(true)
        query = object["QUERY"]?.stringValue
    }
}
