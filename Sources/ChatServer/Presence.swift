/// Who is online, indexed two ways: by user key (routing a direct message) and by event loop
/// (fanning out a broadcast as one shared list per loop, without copying it per message).
struct Presence {
    private(set) var byKey: [String: ClientConnection] = [:]
    /// Connections per outbox (one outbox per event loop).
    private(set) var byLoop: [[ClientConnection]]
    /// Where each connection sits in its loop's list, for O(1) removal.
    private var slots: [ObjectIdentifier: Int] = [:]

    init(loopCount: Int) {
        byLoop = Array(repeating: [], count: loopCount)
    }

    var count: Int { byKey.count }

    subscript(key: String) -> ClientConnection? { byKey[key] }

    mutating func insert(_ connection: ClientConnection, key: String) {
        byKey[key] = connection
        let loop = connection.outbox.index
        slots[ObjectIdentifier(connection)] = byLoop[loop].count
        byLoop[loop].append(connection)
    }

    /// Removes `connection` if it is the one online under `key`; false otherwise.
    mutating func remove(_ connection: ClientConnection, key: String) -> Bool {
        guard byKey[key] === connection, let slot = slots.removeValue(forKey: ObjectIdentifier(connection)) else {
            return false
        }
        byKey[key] = nil
        let loop = connection.outbox.index
        let last = byLoop[loop].removeLast()
        if slot < byLoop[loop].count {
            byLoop[loop][slot] = last
            slots[ObjectIdentifier(last)] = slot
        }
        return true
    }
}
