import Foundation

/// The CPUs this process may run on, as the kernel reports them.
enum CPUAffinity {
    /// How many CPUs the process's affinity mask allows (`Cpus_allowed_list` in
    /// /proc/self/status, e.g. "0-3,6"), or `nil` where that is not known.
    static func allowedCPUCount() -> Int? {
        // /proc files report a size of 0: read to the end rather than by size.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/status")?.readDataToEndOfFile() else { return nil }
        let status = String(decoding: data, as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return count(inList: line.dropFirst("Cpus_allowed_list:".count))
    }

    /// The number of CPUs in a list such as "0-3,6".
    static func count(inList list: Substring) -> Int? {
        var total = 0
        for part in list.split(separator: ",") {
            let bounds = part.trimmingCharacters(in: .whitespaces).split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: total += 1
            case 2 where bounds[1] >= bounds[0]: total += bounds[1] - bounds[0] + 1
            default: return nil
            }
        }
        return total > 0 ? total : nil
    }
}
