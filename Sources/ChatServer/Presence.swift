/// Who is online, indexed two ways: by user key (routing a direct message) and by event loop
/// (fanning out a broadcast as one shared list per loop, without copying it per message).
struct Presence {
    private(set) var byKey: [String: ClientConnection] = [:]
    /// Connections per outbox (one outbox per event loop).
    private(set) var byLoop: [[ClientConnection]]
    /// Where each connection sits in its loop's list, for O(1) removal.
    private var slots: [ObjectIdentifier: Int] = [:]
    /// Who is online, sorted by key: a login's USER_LIST is a copy, not a sort of everyone
    /// (which made a storm of 10,000 logins quadratic in string comparisons).
    private(set) var sortedMembers: [(key: String, name: String)] = []
    /// Users online on the other servers of a cluster (by key: their name and server), known
    /// from the shared log; nothing is delivered to them from here.
    private(set) var remote: [String: (name: String, node: String)] = [:]

    init(loopCount: Int) {
        byLoop = Array(repeating: [], count: loopCount)
    }

    /// Users online here and, in a cluster, elsewhere.
    var count: Int { byKey.count + remote.count }

    /// Whether `key` is online on another server of the cluster.
    func isOnlineElsewhere(_ key: String) -> Bool { remote[key] != nil }

    /// Whether `key` is online here or on another server.
    func isOnline(_ key: String) -> Bool { byKey[key] != nil || remote[key] != nil }

    /// `name` came online on the server `node`.
    mutating func insertRemote(key: String, name: String, node: String) {
        if remote.updateValue((name, node), forKey: key) == nil, byKey[key] == nil {
            sortedMembers.insert((key, name), at: memberIndex(of: key))
        }
    }

    /// The user `key` left the server `node` (nothing happens if they are known elsewhere now).
    mutating func removeRemote(key: String, node: String) {
        guard remote[key]?.node == node else { return }
        remote[key] = nil
        guard byKey[key] == nil else { return }
        let index = memberIndex(of: key)
        if index < sortedMembers.count, sortedMembers[index].key == key { sortedMembers.remove(at: index) }
    }

    subscript(key: String) -> ClientConnection? { byKey[key] }

    /// The names of everyone online, sorted case-insensitively.
    var sortedNames: [String] { sortedMembers.map(\.name) }

    mutating func insert(_ connection: ClientConnection, key: String, name: String) {
        byKey[key] = connection
        if remote[key] == nil { sortedMembers.insert((key, name), at: memberIndex(of: key)) }
        let loop = connection.outbox.index
        slots[ObjectIdentifier(connection)] = byLoop[loop].count
        byLoop[loop].append(connection)
    }

    /// Where the connection online under `key` sits: its loop and its index in that loop's list.
    func place(of key: String) -> (loop: Int, slot: Int)? {
        guard let connection = byKey[key], let slot = slots[ObjectIdentifier(connection)] else { return nil }
        return (connection.outbox.index, slot)
    }

    /// Removes `connection` if it is the one online under `key`; false otherwise.
    mutating func remove(_ connection: ClientConnection, key: String) -> Bool {
        guard byKey[key] === connection, let slot = slots.removeValue(forKey: ObjectIdentifier(connection)) else {
            return false
        }
        byKey[key] = nil
        let index = memberIndex(of: key)
        if remote[key] == nil, index < sortedMembers.count, sortedMembers[index].key == key { sortedMembers.remove(at: index) }
        let loop = connection.outbox.index
        let last = byLoop[loop].removeLast()
        if slot < byLoop[loop].count {
            byLoop[loop][slot] = last
            slots[ObjectIdentifier(last)] = slot
        }
        return true
    }

    /// The first index in `sortedMembers` whose key is not below `key`.
    private func memberIndex(of key: String) -> Int {
        var low = 0
        var high = sortedMembers.count
        while low < high {
            let middle = (low + high) / 2
            if sortedMembers[middle].key < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
