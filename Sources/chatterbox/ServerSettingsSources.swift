import ArgumentParser
import Foundation
import Yams

/// The server's settings from three places besides the command line, merged into it with one
/// precedence: flag > environment (`CHATTERBOX_*`) > configuration file (`--config FILE`,
/// YAML) > default.
///
/// Each setting has the name of its flag without the dashes (`http-port: 9443` in the file,
/// `CHATTERBOX_HTTP_PORT=9443` in the environment); what the file or the environment sets is
/// handed to the command line parser as the flag would be, so a value is checked by the same
/// rules wherever it comes from. A key the file does not know, or a value its setting refuses,
/// stops the start with the file, the key and the reason. (Unknown `CHATTERBOX_*` variables
/// are left alone: the environment is shared with other programs.)
struct ServerSettingsSources {
    /// A setting of `chatterbox server`.
    struct Setting: Equatable {
        enum Kind: Equatable {
            /// `--name VALUE`.
            case option
            /// `--name VALUE`, repeatable (a list in the file, comma-separated in the environment).
            case repeatable
            /// `--name`, a switch (true or false).
            case flag
        }

        var name: String
        var kind: Kind

        var environmentName: String { "CHATTERBOX_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
    }

    /// Settings that only make sense on the command line.
    static let commandLineOnly: Set<String> = ["config", "print-config", "help", "init"]

    /// Property names whose flag is not their name in kebab case.
    static let customNames = ["dataDirectory": "data-dir", "initialise": "init", "certNames": "cert-name", "operators": "operator"]

    /// Other names the file accepts for a setting (a list reads better in the plural).
    static let fileAliases = ["operators": "operator"]

    /// Every setting of `command` (its properties, by reflection), the positional host too.
    static func settings(of command: some ParsableArguments) -> [Setting] {
        Mirror(reflecting: command).children.compactMap { child in
            guard var label = child.label, label.hasPrefix("_") else { return nil }
            label.removeFirst()
            let type = String(describing: Swift.type(of: child.value))
            let kind: Setting.Kind
            if type.hasPrefix("Flag<") {
                kind = .flag
            } else if type.hasPrefix("Option<Array<") {
                kind = .repeatable
            } else if type.hasPrefix("Option<") || type.hasPrefix("Argument<") {
                kind = .option
            } else {
                return nil
            }
            let name = customNames[label] ?? kebabCase(label)
            guard !commandLineOnly.contains(name) else { return nil }
            return Setting(name: name, kind: kind)
        }
    }

    static func kebabCase(_ name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result += "-" + character.lowercased()
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Why a configuration could not be used.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    let settings: [Setting]

    /// `arguments` (after `server`) with what the environment and the file set added, for the
    /// settings the arguments leave out. The file is `--config FILE` in the arguments, or
    /// `CHATTERBOX_CONFIG`.
    func merged(arguments: [String], environment: [String: String]) throws -> [String] {
        let given = Self.namesGiven(in: arguments)
        var file: [String: [String]] = [:]
        var fileName: String?
        if let path = Self.value(of: "config", in: arguments) ?? environment["CHATTERBOX_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            fileName = path
            file = try fileValues(path: path)
        }
        var added: [String] = []
        var sources: [(flag: String, source: String)] = []
        for setting in settings where setting.name != "host" && !given.contains(setting.name) {
            let source: String
            let values: [String]
            if let text = environment[setting.environmentName] {
                source = "environment variable \(setting.environmentName)"
                values = try environmentValues(text, for: setting, source: source)
            } else if let fromFile = file[setting.name] {
                source = "\(fileName ?? "the configuration file"): \(setting.name)"
                values = fromFile
            } else {
                continue
            }
            added += values.flatMap { value in setting.kind == .flag ? ["--" + setting.name] : ["--" + setting.name, value] }
            sources.append(("--" + setting.name, source))
        }
        // The host is positional: the first argument that is not an option's, or the setting.
        var result = arguments
        if !Self.hasPositionalHost(arguments, settings: settings) {
            let host = environment["CHATTERBOX_HOST"] ?? file["host"]?.first
            if let host { result.insert(host, at: 0) }
        }
        result += added
        try check(result, sources: sources)
        return result
    }

    /// The file's settings, as the values their flags would be given.
    private func fileValues(path: String) throws -> [String: [String]] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Problem(description: "cannot read the configuration file \(path): \(error.localizedDescription)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Problem(description: "the configuration file \(path) is not valid YAML: \(error)")
        }
        guard let root else { return [:] }
        guard let mapping = root.mapping else {
            throw Problem(description: "the configuration file \(path) must be a mapping of settings (name: value), one per line")
        }
        let known = Dictionary(uniqueKeysWithValues: settings.map { ($0.name, $0) })
        var values: [String: [String]] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.scalar?.string else {
                throw Problem(description: "\(path): a key is not a name (line \(keyNode.mark?.line ?? 0))")
            }
            let place = "\(path) line \((keyNode.mark?.line ?? 0))"
            guard let setting = known[Self.fileAliases[key] ?? key] else {
                let hint = Self.commandLineOnly.contains(key) ? " (it is a command-line option only)" : ""
                let near = settings.map(\.name).filter { $0.hasPrefix(String(key.prefix(4))) }.prefix(3)
                let suggestion = near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"
                throw Problem(description: "\(place): unknown setting \"\(key)\"\(hint)\(suggestion)")
            }
            let name = setting.name
            switch (setting.kind, valueNode) {
            case (.flag, .scalar(let scalar)):
                guard let on = Bool.construct(from: scalar) else {
                    throw Problem(description: "\(place): \(key) must be true or false, not \"\(scalar.string)\"")
                }
                values[name] = on ? ["true"] : []
            case (.repeatable, .sequence(let sequence)):
                values[name] = try sequence.map { item in
                    guard let text = item.scalar?.string else { throw Problem(description: "\(place): \(key) must be a list of values") }
                    return text
                }
            case (.repeatable, .scalar(let scalar)), (.option, .scalar(let scalar)):
                values[name] = [scalar.string]
            default:
                throw Problem(description: "\(place): \(key) must be a single value\(setting.kind == .repeatable ? " or a list" : "")")
            }
        }
        return values
    }

    private func environmentValues(_ text: String, for setting: Setting, source: String) throws -> [String] {
        switch setting.kind {
        case .flag:
            switch text.lowercased() {
            case "1", "true", "yes", "on": return ["true"]
            case "0", "false", "no", "off", "": return []
            default: throw Problem(description: "\(source): expected true or false, not \"\(text)\"")
            }
        case .repeatable:
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .option:
            return [text]
        }
    }

    /// Refuses a value its setting refuses, saying where it came from: the merged arguments are
    /// parsed as the server will parse them, and an error that names an added setting's flag
    /// is that setting's. Errors about the command line itself are left to the parser's usual
    /// report.
    private func check(_ arguments: [String], sources: [(flag: String, source: String)]) throws {
        do {
            _ = try ServerCommand.parse(arguments)
        } catch {
            let message = ServerCommand.message(for: error)
            for (flag, source) in sources where message.contains("'\(flag) ") || message.contains("'\(flag)'") || message.contains(flag + " ") || message.hasPrefix(flag) {
                throw Problem(description: "\(source): \(message)")
            }
        }
    }

    /// The settings the arguments name (long flags, with or without `=value`, and -p).
    static func namesGiven(in arguments: [String]) -> Set<String> {
        var names = Set<String>()
        for argument in arguments {
            if argument == "--" { break }
            if argument.hasPrefix("--") {
                names.insert(String(argument.dropFirst(2).prefix { $0 != "=" }))
            } else if argument == "-p" || argument.hasPrefix("-p") && argument.count > 2 && argument.dropFirst(2).allSatisfy(\.isNumber) {
                names.insert("port")
            }
        }
        return names
    }

    /// The value given to `--name` in `arguments` (`--name VALUE` or `--name=VALUE`).
    static func value(of name: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--" + name, index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--\(name)=") { return String(argument.dropFirst(name.count + 3)) }
        }
        return nil
    }

    /// Whether the arguments give the host (a word that is not an option nor an option's value).
    static func hasPositionalHost(_ arguments: [String], settings: [Setting]) -> Bool {
        let switches = Set(settings.filter { $0.kind == .flag }.map { "--" + $0.name } + ["--print-config", "--help", "-h", "--init"])
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return index + 1 < arguments.count }
            if argument.hasPrefix("-"), argument.count > 1 {
                // An option's value follows it unless it is a switch or carries it (=, -p9000).
                if !switches.contains(argument), !argument.contains("="), !(argument.hasPrefix("-p") && argument.count > 2) { index += 1 }
            } else {
                return true
            }
            index += 1
        }
        return false
    }
}

extension ServerSettingsSources {
    /// The effective settings of `command` as a configuration file (YAML) would give them,
    /// secrets masked (a database URL's password); unset ones commented out.
    static func printable(_ command: ServerCommand) -> String {
        var lines = ["# chatterbox server: effective configuration (flag > environment > file > default)"]
        for (name, text) in values(of: command) {
            if let text {
                lines.append("\(name): \(text)")
            } else {
                lines.append("# \(name): (not set)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every setting of `command` in declaration order, with its value as YAML (`nil`: not set).
    static func values(of command: ServerCommand) -> [(name: String, text: String?)] {
        var values: [(name: String, text: String?)] = []
        for child in Mirror(reflecting: command).children {
            guard var label = child.label, label.hasPrefix("_") else { continue }
            label.removeFirst()
            let name = customNames[label] ?? kebabCase(label)
            guard !commandLineOnly.contains(name) else { continue }
            guard let value = parsedValue(of: child.value) else { continue }
            values.append((name, yaml(value, name: name)))
        }
        return values
    }

    /// The value inside an argument parser property wrapper (its parsed value).
    private static func parsedValue(of wrapper: Any) -> Any? {
        for child in Mirror(reflecting: wrapper).children {
            let inner = Mirror(reflecting: child.value)
            if inner.displayStyle == .enum, let payload = inner.children.first, payload.label == "value" {
                return payload.value
            }
        }
        return nil
    }

    /// `value` in YAML; `nil` for an optional that is not set.
    private static func yaml(_ value: Any, name: String) -> String? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return yaml(wrapped, name: name)
        }
        switch value {
        case let text as String: return quoted(name == "store" ? maskingPassword(text) : text)
        case let list as [String]: return "[" + list.map(quoted).joined(separator: ", ") + "]"
        case let flag as Bool: return flag ? "true" : "false"
        case let duration as DurationArgument: return quoted(duration.description)
        default: return "\(value)"
        }
    }

    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\x%02X", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
    static func maskingPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
