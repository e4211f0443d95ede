import Foundation

/// Names that look alike though they are different users (UTS #39, Unicode Security
/// Mechanisms): their skeletons, and the scripts they are written in.
///
/// Two names look alike when their skeletons are equal: `аlice` with a Cyrillic `а` and
/// `alice`, `Сhatterbox` and `Chatterbox`. Lookalikes in one script are ordinary (`joel` and
/// `joe1`, `al` and `a1`) and stay allowed; across scripts, or in a name that mixes scripts,
/// they are an impersonation.
public enum UsernameLookalikes {
    /// The skeleton of `name` as compared here: the skeleton (UTS #39) of its user key, lowercased,
    /// so that case does not matter either. Names with equal skeletons look alike.
    public static func skeleton(_ name: String) -> String {
        let key = UsernameRules.key(name)
        var mapped = String.UnicodeScalarView()
        for scalar in decomposed(key).unicodeScalars {
            if let prototype = Tables.shared.prototypes[scalar.value] {
                mapped.append(contentsOf: prototype)
            } else {
                mapped.append(scalar)
            }
        }
        // Prototypes may be capitals (`0` → `O`): lowercased again, then decomposed as UTS #39 ends.
        return decomposed(String(mapped).lowercased())
    }

    /// The scripts `name` is written in: its resolved script set (UTS #39 section 5.1, with
    /// Han, Hiragana and Katakana one Japanese writing and Han with Hangul one Korean). `nil`
    /// when it goes with any script (digits, punctuation, symbols only); empty when it mixes
    /// scripts no writing system uses together.
    public static func scripts(of name: String) -> Set<String>? {
        var resolved: Set<String>?
        for scalar in name.unicodeScalars {
            guard let scripts = Tables.shared.scripts(of: scalar.value) else { continue }
            resolved = resolved.map { $0.intersection(scripts) } ?? scripts
            if resolved?.isEmpty == true { return [] }
        }
        return resolved
    }

    /// Whether a new name `candidate` may be used beside the known name `existing` that it
    /// looks like (equal skeletons): only when neither mixes scripts and they share one.
    public static func mayCoexist(_ candidate: String, with existing: String) -> Bool {
        guard let mine = scripts(of: candidate), let theirs = scripts(of: existing) else { return true }
        return !mine.isDisjoint(with: theirs)
    }

    /// `text` in NFD; text below U+00C0 has no decompositions and is returned as it is.
    private static func decomposed(_ text: String) -> String {
        text.unicodeScalars.allSatisfy { $0.value < 0xC0 } ? text : text.decomposedStringWithCanonicalMapping
    }

    /// The data of ``UnicodeSecurityData``, parsed once.
    private struct Tables: Sendable {
        static let shared = Tables()

        let prototypes: [UInt32: [Unicode.Scalar]]
        /// Runs of code points with the same scripts, sorted: first, last, index in `scriptSets`.
        private let runs: [(first: UInt32, last: UInt32, set: Int)]
        private let scriptSets: [Set<String>]

        private init() {
            var prototypes: [UInt32: [Unicode.Scalar]] = [:]
            for line in UnicodeSecurityData.confusables.split(separator: "\n") {
                let parts = line.split(separator: ">")
                guard parts.count == 2, let source = UInt32(parts[0], radix: 16) else { continue }
                prototypes[source] = parts[1].split(separator: ".").compactMap { UInt32($0, radix: 16).flatMap(Unicode.Scalar.init) }
            }
            var runs: [(first: UInt32, last: UInt32, set: Int)] = []
            var sets: [Set<String>] = []
            var setIndex: [String: Int] = [:]
            for line in UnicodeSecurityData.scripts.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 3, let first = UInt32(parts[0], radix: 16), let last = UInt32(parts[1], radix: 16) else { continue }
                let name = String(parts[2])
                let index = setIndex[name] ?? {
                    sets.append(Self.augmented(Set(name.split(separator: "+").map(String.init))))
                    setIndex[name] = sets.count - 1
                    return sets.count - 1
                }()
                runs.append((first, last, index))
            }
            self.prototypes = prototypes
            self.runs = runs.sorted { $0.first < $1.first }
            self.scriptSets = sets
        }

        /// UTS #39's augmented script set: the writing systems that combine scripts.
        private static func augmented(_ scripts: Set<String>) -> Set<String> {
            var result = scripts
            if scripts.contains("Hani") { result.formUnion(["Hanb", "Jpan", "Kore"]) }
            if scripts.contains("Hira") || scripts.contains("Kana") { result.insert("Jpan") }
            if scripts.contains("Hang") { result.insert("Kore") }
            if scripts.contains("Bopo") { result.insert("Hanb") }
            return result
        }

        /// The augmented scripts of `value`; `nil` for Common and Inherited (any script).
        func scripts(of value: UInt32) -> Set<String>? {
            var low = 0, high = runs.count
            while low < high {
                let middle = (low + high) / 2
                if runs[middle].last < value { low = middle + 1 } else { high = middle }
            }
            guard low < runs.count, runs[low].first <= value else { return nil }
            return scriptSets[runs[low].set]
        }
    }
}
