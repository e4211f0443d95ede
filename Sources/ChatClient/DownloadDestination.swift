import Foundation

/// Where a fetched file is saved. Nothing that exists is ever replaced unless the user asked
/// for it (`/Get ID PATH --force`), and a directory never is:
///
/// - no path: into the download directory, under the sender's file name made safe;
/// - a directory (or a path ending in `/`): into it, under that name;
/// - a file that exists: beside it, as `name (1).ext`, `name (2).ext` … — or over it with
///   `--force`;
/// - anything else: that path.
public enum DownloadDestination {
    /// The download directory when none is configured: `~/Downloads` when it exists,
    /// otherwise the working directory.
    public static func defaultDirectory() -> String {
        let downloads = (NSHomeDirectory() as NSString).appendingPathComponent("Downloads")
        if isDirectory(downloads) { return downloads }
        return FileManager.default.currentDirectoryPath
    }

    /// `name` (the sender's) as a file name that stays where it is put and cannot hide: its
    /// last path component, without control characters or leading dots, at most 200 bytes;
    /// `fallback` when nothing is left.
    public static func safeName(_ name: String, fallback: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        var cleaned = String(last.unicodeScalars.map { scalar -> Character in
            scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format ? "_" : Character(scalar)
        })
        while cleaned.hasPrefix(".") { cleaned.removeFirst() }
        while cleaned.utf8.count > 200 { cleaned.removeLast() }
        cleaned = cleaned.trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? fallback : cleaned
    }

    /// The path to save a file the sender called `name` to, for what the user typed (`path`,
    /// already tilde-expanded, or `nil`). `force` allows replacing an existing file.
    public static func resolve(name: String, fallbackName: String, path: String?, force: Bool, downloadDirectory: String) -> String {
        let safe = safeName(name, fallback: fallbackName)
        guard let path, !path.isEmpty else {
            return unused(in: downloadDirectory, name: safe)
        }
        if path.hasSuffix("/") || isDirectory(path) {
            return unused(in: path, name: safe)
        }
        if FileManager.default.fileExists(atPath: path), !force {
            let directory = (path as NSString).deletingLastPathComponent
            return unused(in: directory.isEmpty ? "." : directory, name: (path as NSString).lastPathComponent)
        }
        return path
    }

    /// `directory/name`, or the first of `name (1).ext`, `name (2).ext` … that is not taken.
    /// A name whose `.part` exists is free: that is an earlier attempt to resume.
    public static func unused(in directory: String, name: String) -> String {
        let base = (name as NSString).deletingPathExtension
        let pathExtension = (name as NSString).pathExtension
        var candidate = (directory as NSString).appendingPathComponent(name)
        var number = 1
        while isTaken(candidate) {
            let numbered = pathExtension.isEmpty || base.isEmpty ? "\(name) (\(number))" : "\(base) (\(number)).\(pathExtension)"
            candidate = (directory as NSString).appendingPathComponent(numbered)
            number += 1
        }
        return candidate
    }

    /// Something is at `path`, or its `.part` is a directory (unusable for a download).
    static func isTaken(_ path: String) -> Bool {
        exists(path) || isDirectory(path + ".part")
    }

    /// Whether anything (even a dangling symbolic link) is at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var flag: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
    }
}
