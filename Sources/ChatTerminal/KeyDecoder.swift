/// Turns the bytes a terminal sends into keys: UTF-8 text, control keys, Alt (ESC prefix),
/// CSI and SS3 sequences of xterm-compatible terminals (including modifiers, as in Ctrl-Left
/// `ESC [ 1 ; 5 D`), the key strings the terminal's terminfo entry names, and bracketed paste
/// (`ESC [ 200 ~` … `ESC [ 201 ~`).
///
/// Feed it bytes as they arrive; a lone ESC is ambiguous until more bytes come or a short
/// time passes, which the reader signals with ``flushPendingEscape()``.
public struct KeyDecoder: Sendable {
    /// Key strings from terminfo (or anywhere else) that take precedence over the built-in
    /// xterm table.
    public var terminfoKeys: [[UInt8]: Key]
    private var pending: [UInt8] = []
    private var pasting: [UInt8]?
    /// Largest paste kept; the rest of a larger paste is dropped rather than eat memory.
    public static let maximumPasteBytes = 1 << 20

    private static let pasteStart: [UInt8] = Array("\u{1B}[200~".utf8)
    private static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    public init(terminfoKeys: [[UInt8]: Key] = [:]) {
        self.terminfoKeys = terminfoKeys
    }

    /// Whether bytes are waiting to be completed (an ESC or a partial sequence or character).
    public var hasPending: Bool { !pending.isEmpty && pasting == nil }

    /// Decodes `bytes`, keeping an incomplete sequence for the next call.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Key] {
        pending.append(contentsOf: bytes)
        var keys: [Key] = []
        while true {
            if pasting != nil {
                guard let key = continuePaste() else { break }
                keys.append(key)
                continue
            }
            guard !pending.isEmpty else { break }
            guard let (key, length) = decodeOne(final: false) else { break }
            pending.removeFirst(length)
            if let key { keys.append(key) }
        }
        return Self.mergingText(keys)
    }

    /// Gives up waiting for the rest of a sequence: a lone ESC is the Escape key, and a
    /// partial sequence is taken as what it is so far.
    public mutating func flushPendingEscape() -> [Key] {
        guard pasting == nil else { return [] }
        var keys: [Key] = []
        while !pending.isEmpty {
            guard let (key, length) = decodeOne(final: true) else { break }
            pending.removeFirst(length)
            if let key { keys.append(key) }
        }
        return Self.mergingText(keys)
    }

    /// Adjacent text keys become one (a burst of typing is inserted at once).
    static func mergingText(_ keys: [Key]) -> [Key] {
        var merged: [Key] = []
        for key in keys {
            if case .text(let more) = key, case .text(let text)? = merged.last {
                merged[merged.count - 1] = .text(text + more)
            } else {
                merged.append(key)
            }
        }
        return merged
    }

    // MARK: - Paste

    private mutating func continuePaste() -> Key? {
        guard var buffer = pasting else { return nil }
        buffer.append(contentsOf: pending)
        pending = []
        if let end = buffer.firstRange(of: Self.pasteEnd) {
            pending = Array(buffer[end.upperBound...])
            pasting = nil
            let text = String(decoding: buffer[..<end.lowerBound].prefix(Self.maximumPasteBytes), as: UTF8.self)
            return .paste(text)
        }
        // Keep a possible partial end marker; drop what exceeds the limit.
        if buffer.count > Self.maximumPasteBytes + Self.pasteEnd.count {
            let keep = buffer.suffix(Self.pasteEnd.count)
            buffer = Array(buffer.prefix(Self.maximumPasteBytes)) + keep
        }
        pasting = buffer
        return nil
    }

    // MARK: - One key

    /// The key at the start of `pending` and how many bytes it used; `nil` when more bytes are
    /// needed. A `nil` key consumes bytes without producing one.
    private mutating func decodeOne(final: Bool) -> (Key?, Int)? {
        let byte = pending[0]
        switch byte {
        case 0x1B:
            return decodeEscape(final: final)
        case 0x0D, 0x0A:
            return (.enter, 1)
        case 0x09:
            return (.tab, 1)
        case 0x7F, 0x08:
            return (.backspace, 1)
        case 0x00:
            return (.ctrl("@"), 1)
        case 0x01...0x1A:
            return (.ctrl(Character(Unicode.Scalar(byte + 0x60))), 1)
        case 0x1C...0x1F:
            return (.ctrl(Character(Unicode.Scalar(byte + 0x40))), 1)
        default:
            return decodeText(final: final)
        }
    }

    /// A run of UTF-8 text up to the next control byte.
    private func decodeText(final: Bool) -> (Key?, Int)? {
        var end = 0
        while end < pending.count, pending[end] >= 0x20, pending[end] != 0x7F {
            end += 1
        }
        // Do not split a multi-byte character whose last bytes have not arrived.
        var complete = end
        if end == pending.count {
            var start = end - 1
            while start > 0, pending[start] & 0xC0 == 0x80, end - start < 4 { start -= 1 }
            let lead = pending[start]
            let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if end - start < needed { complete = start }
        }
        if complete == 0 {
            guard final else { return nil }
            complete = end
        }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        return (.text(text), complete)
    }

    private mutating func decodeEscape(final: Bool) -> (Key?, Int)? {
        guard pending.count >= 2 else { return final ? (.escape, 1) : nil }
        let second = pending[1]
        if second == UInt8(ascii: "[") || second == UInt8(ascii: "O") {
            guard let length = sequenceLength(introducer: second) else {
                // Incomplete: wait, or give up and take it as Alt-[ / Alt-O.
                return final ? (.alt(Character(Unicode.Scalar(second))), 2) : nil
            }
            let sequence = Array(pending[..<length])
            return (key(forSequence: sequence), length)
        }
        // ESC ESC [ C / D: Alt-arrow on terminals that send ESC then the arrow.
        if second == 0x1B, pending.count >= 4, pending[2] == UInt8(ascii: "[") {
            if pending[3] == UInt8(ascii: "C") { return (.altRight, 4) }
            if pending[3] == UInt8(ascii: "D") { return (.altLeft, 4) }
        }
        // ESC ESC otherwise: the first is Escape.
        if second == 0x1B { return (.escape, 1) }
        if second == 0x7F || second == 0x08 { return (.alt("\u{7F}"), 2) }
        if second < 0x20 { return (.escape, 1) }
        // Alt plus a (possibly multi-byte) character.
        let needed = second >= 0xF0 ? 4 : second >= 0xE0 ? 3 : second >= 0xC0 ? 2 : 1
        let end = 1 + needed
        guard pending.count >= end else { return final ? (.escape, 1) : nil }
        let character = String(decoding: pending[1..<end], as: UTF8.self)
        return (.alt(character.first ?? "?"), end)
    }

    /// The length of a complete CSI (`ESC [ params final`) or SS3 (`ESC O x`) sequence, or
    /// `nil` when it has not fully arrived.
    private func sequenceLength(introducer: UInt8) -> Int? {
        guard pending.count >= 3 else { return nil }
        if introducer == UInt8(ascii: "O") { return 3 }
        // The Linux console's F1–F5 are ESC [ [ A … E.
        if pending[2] == UInt8(ascii: "[") { return pending.count >= 4 ? 4 : nil }
        var index = 2
        while index < pending.count {
            let byte = pending[index]
            if (0x40...0x7E).contains(byte) { return index + 1 }
            // Malformed: end the sequence before the stray byte.
            if !(0x20...0x3F).contains(byte) { return index }
            index += 1
        }
        return nil
    }

    private mutating func key(forSequence sequence: [UInt8]) -> Key? {
        if sequence == Self.pasteStart {
            pasting = []
            return nil
        }
        if sequence == Self.pasteEnd { return nil }
        if let key = terminfoKeys[sequence] { return key }
        return Self.xtermKey(sequence)
    }

    /// The built-in table: xterm, VT220, rxvt and the Linux console.
    static func xtermKey(_ sequence: [UInt8]) -> Key {
        let text = String(decoding: sequence, as: UTF8.self)
        let unknown = Key.unknown(text.replacingOccurrences(of: "\u{1B}", with: "^["))
        guard let final = sequence.last.map({ Character(Unicode.Scalar($0)) }) else { return unknown }
        if sequence[1] == UInt8(ascii: "O") {
            switch final {
            case "A": return .up
            case "B": return .down
            case "C": return .right
            case "D": return .left
            case "H": return .home
            case "F": return .end
            case "M": return .enter
            case "P": return .function(1)
            case "Q": return .function(2)
            case "R": return .function(3)
            case "S": return .function(4)
            // rxvt: Ctrl-arrows in application mode.
            case "c": return .wordRight
            case "d": return .wordLeft
            default: return unknown
            }
        }
        let parameters = String(decoding: sequence.dropFirst(2).dropLast(), as: UTF8.self)
        let numbers = parameters.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) }
        let first = numbers.first.flatMap { $0 } ?? 1
        // xterm modifiers: 1 + (Shift 1 | Alt 2 | Ctrl 4).
        let modifier = numbers.count > 1 ? (numbers[1] ?? 1) - 1 : 0
        // Alt alone moves between windows (irssi); Ctrl, with or without Alt, jumps words.
        let windowJump = modifier & 0b110 == 0b010
        let wordJump = modifier & 0b100 != 0
        if parameters.hasPrefix("[") {
            switch final {
            case "A": return .function(1)
            case "B": return .function(2)
            case "C": return .function(3)
            case "D": return .function(4)
            case "E": return .function(5)
            default: return unknown
            }
        }
        switch final {
        case "A": return .up
        case "B": return .down
        case "C": return windowJump ? .altRight : wordJump ? .wordRight : .right
        case "D": return windowJump ? .altLeft : wordJump ? .wordLeft : .left
        case "H": return .home
        case "F": return .end
        case "Z": return .backTab
        case "P": return .function(1)
        case "Q": return .function(2)
        case "R": return .function(3)
        case "S": return .function(4)
        // rxvt: Shift-arrows.
        case "c": return .right
        case "d": return .left
        case "~":
            switch first {
            case 1, 7: return .home
            case 2: return .insert
            case 3: return .delete
            case 4, 8: return .end
            case 5: return .pageUp
            case 6: return .pageDown
            case 11...15: return .function(first - 10)
            case 17...21: return .function(first - 11)
            case 23, 24: return .function(first - 12)
            default: return unknown
            }
        default:
            return unknown
        }
    }
}
