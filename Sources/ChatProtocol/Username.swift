import Foundation

/// The rules a username must follow (see PROTOCOL.md, "Usernames").
public struct UsernameRules: Sendable {
    /// Longest name accepted, in Unicode scalars.
    public static let maximumLength = 32

    /// Most nonspacing marks in a row (UTS #39 section 5.4): Vietnamese, Thai or Tibetan need
    /// at most four on one letter; more is "Zalgo" text that spills over the lines around it.
    public static let maximumMarksInARow = 4

    /// The server's own pseudo-user, who answers commands. Reserved.
    public var serverName: String

    public init(serverName: String = "Chatterbox") {
        self.serverName = serverName
    }

    /// The key two names are compared by: names equal under this key are the same user. The
    /// one place where a name becomes a key: the store, the hub and the blocks all use it.
    ///
    /// PRECIS's UsernameCaseMapped profile (RFC 8265): fullwidth and halfwidth forms mapped to
    /// their ordinary ones, lowercased (Unicode's toLowerCase), then NFC. So `josé` typed
    /// precomposed or with a combining accent, `JOSÉ` and `ｊｏｓé` are one user.
    /// Changing this function changes keys stored in databases: it needs a migration that
    /// rewrites them (SQLiteChatStore's "v8-user-keys-normalised" is the first).
    public static func key(_ name: String) -> String {
        if name.utf8.allSatisfy({ $0 < 0x80 }) { return name.lowercased() }
        var mapped = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            // The Halfwidth and Fullwidth Forms block (and the ideographic space) holds only
            // <wide> and <narrow> compatibility characters: their NFKC is their width mapping.
            if (0xFF01...0xFFEE).contains(scalar.value) || scalar.value == 0x3000 {
                mapped.append(contentsOf: String(scalar).precomposedStringWithCompatibilityMapping.unicodeScalars)
            } else {
                mapped.append(scalar)
            }
        }
        let lowered = String(mapped).lowercased()
        // Below U+0300 there is nothing for NFC to compose or replace.
        if lowered.unicodeScalars.allSatisfy({ $0.value < 0x300 }) { return lowered }
        return lowered.precomposedStringWithCanonicalMapping
    }

    /// Why `name` cannot be used, or `nil` when it is acceptable. Names in any script are
    /// fine; refused are names that are empty or too long, hold spaces, control, invisible or
    /// blank-looking characters, pile up combining marks, or look like `ALL` or the server.
    /// (Whether a name looks like another user's is the hub's to tell: ``UsernameLookalikes``.)
    public func problem(with name: String) -> String? {
        let scalars = name.unicodeScalars
        if scalars.isEmpty { return "The username must not be empty." }
        if scalars.count > Self.maximumLength {
            return "The username is too long: at most \(Self.maximumLength) characters."
        }
        for scalar in scalars {
            let properties = scalar.properties
            if properties.isWhitespace || scalar.value == 0x200B {
                return "The username must not contain spaces."
            }
            switch properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                return "The username must not contain control or invisible characters."
            default:
                break
            }
            if properties.isDefaultIgnorableCodePoint || Self.blankLooking.contains(scalar.value) {
                return "The username must not contain characters that look blank (U+\(String(scalar.value, radix: 16, uppercase: true)))."
            }
        }
        if let first = name.first, first == "@" || first == "/" {
            return "The username must not start with '\(first)'."
        }
        if let first = scalars.first, Self.isCombiningMark(first) {
            return "The username must not start with a combining mark."
        }
        if let problem = Self.markProblem(name) { return problem }
        let key = Self.key(name)
        if key == Self.key(ChatMessage.broadcastDestination) {
            return "\(ChatMessage.broadcastDestination) is reserved: it addresses every user."
        }
        if key == Self.key(serverName) {
            return "\(serverName) is reserved for the server."
        }
        let skeleton = UsernameLookalikes.skeleton(name)
        if skeleton == UsernameLookalikes.skeleton(ChatMessage.broadcastDestination) {
            return "The username \(name) looks like \(ChatMessage.broadcastDestination), which addresses every user. Please choose another."
        }
        if skeleton == UsernameLookalikes.skeleton(serverName) {
            return "The username \(name) looks like \(serverName), the server's name. Please choose another."
        }
        return nil
    }

    /// Characters that are not invisible by their properties but show as nothing: the
    /// braille blank, the Hangul fillers and the Khmer inherent vowels (the last three are also
    /// default ignorable), the musical null notehead.
    static let blankLooking: Set<UInt32> = [0x2800, 0x3164, 0x115F, 0x1160, 0xFFA0, 0x17B4, 0x17B5, 0x1D159]

    private static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .spacingMark: true
        default: false
        }
    }

    /// UTS #39 section 5.4 on the decomposed name: no more than ``maximumMarksInARow``
    /// nonspacing marks in a row, and never the same one twice in a row.
    private static func markProblem(_ name: String) -> String? {
        // Combining marks begin at U+0300; nothing below decomposes into one.
        guard name.unicodeScalars.contains(where: { $0.value >= 0xC0 }) else { return nil }
        var run = 0
        var previous: Unicode.Scalar?
        for scalar in name.decomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark:
                run += 1
                if run > maximumMarksInARow {
                    return "The username has too many combining marks on one character (at most \(maximumMarksInARow))."
                }
                if scalar == previous {
                    return "The username repeats a combining mark on one character."
                }
            default:
                run = 0
            }
            previous = scalar
        }
        return nil
    }
}
