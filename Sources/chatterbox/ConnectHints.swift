import Foundation

/// The lines a server prints at start telling users exactly how to connect, one client
/// command per name it can be reached under (and that its certificate names).
enum ConnectHints {
    static func lines(names: [String], port: Int, caPath: String?, plaintext: Bool) -> [String] {
        guard !names.isEmpty else { return [] }
        let security = plaintext ? " --plaintext" : caPath.map { " -ca " + quoted($0) } ?? ""
        let portPart = " -p \(port)"
        let header = names.count == 1 ? "Connect with:" : "Connect with one of (from another machine, use an address or name it can reach):"
        return [header] + names.map { "  chatterbox client \(quoted($0))\(portPart)\(security)" }
    }

    /// `text` as one shell word.
    private static func quoted(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "-_./:@%+=,".contains($0) }
        return plain && !text.isEmpty ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
