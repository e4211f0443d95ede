import ChatStore

/// Who blocks whom, by user key. A block stops messages both ways.
struct BlockGraph {
    private var blocking: [String: Set<String>] = [:]
    private var blockedBy: [String: Set<String>] = [:]

    init(_ relations: [BlockRelation] = []) {
        for relation in relations { insert(relation) }
    }

    /// Adds a block; false if it was already there.
    @discardableResult
    mutating func insert(_ relation: BlockRelation) -> Bool {
        guard blocking[relation.blocker, default: []].insert(relation.blocked).inserted else { return false }
        blockedBy[relation.blocked, default: []].insert(relation.blocker)
        return true
    }

    /// Removes a block; false if there was none.
    @discardableResult
    mutating func remove(_ relation: BlockRelation) -> Bool {
        guard blocking[relation.blocker]?.remove(relation.blocked) != nil else { return false }
        blockedBy[relation.blocked]?.remove(relation.blocker)
        if blocking[relation.blocker]?.isEmpty == true { blocking[relation.blocker] = nil }
        if blockedBy[relation.blocked]?.isEmpty == true { blockedBy[relation.blocked] = nil }
        return true
    }

    /// The users `key` has blocked.
    func blocked(by key: String) -> Set<String> {
        blocking[key] ?? []
    }

    func contains(_ relation: BlockRelation) -> Bool {
        blocking[relation.blocker]?.contains(relation.blocked) == true
    }

    /// Everyone who must not exchange messages with `key`: blocked by them or blocking them.
    func separated(from key: String) -> Set<String> {
        let mine = blocking[key]
        let theirs = blockedBy[key]
        switch (mine, theirs) {
        case (nil, nil): return []
        case (let mine?, nil): return mine
        case (nil, let theirs?): return theirs
        case (let mine?, let theirs?): return mine.union(theirs)
        }
    }
}
