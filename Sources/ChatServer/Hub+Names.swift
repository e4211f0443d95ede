import ChatProtocol
import ChatStore

/// Who may take a name: lookalikes of known users. Callers hold the hub's lock.
extension Hub.State {
    /// Why the new name `name` (skeleton `skeleton`) may not join the known users, or `nil`:
    /// it looks like one of them, across scripts or mixing scripts (``UsernameLookalikes``).
    func lookalikeProblem(_ name: String, skeleton: String) -> String? {
        for key in lookalikes[skeleton] ?? [] {
            guard let known = users[key], !UsernameLookalikes.mayCoexist(name, with: known.name) else { continue }
            return "The username \(name) looks like \(known.name), who already uses this server, but is spelled with other characters. Please choose another."
        }
        return nil
    }
}
