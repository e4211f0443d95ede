extension StoredMessage {
    /// The first `limit` of two lists ordered newest first (by sequence), merged: a store's
    /// rows and the hub's window of recent broadcasts, for a login's history.
    public static func mergedNewestFirst(_ first: [StoredMessage], _ second: [StoredMessage], limit: Int) -> [StoredMessage] {
        var merged: [StoredMessage] = []
        merged.reserveCapacity(min(limit, first.count + second.count))
        var i = first.startIndex
        var j = second.startIndex
        while merged.count < limit, i < first.endIndex || j < second.endIndex {
            if j == second.endIndex || (i < first.endIndex && first[i].sequence > second[j].sequence) {
                merged.append(first[i])
                i += 1
            } else {
                merged.append(second[j])
                j += 1
            }
        }
        return merged
    }
}
