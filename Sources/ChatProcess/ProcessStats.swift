import Foundation

/// CPU time and memory of a process, from /proc.
public struct ProcessStats: Sendable, Codable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentBytes: Int
    /// The highest resident set size since the process started (VmHWM), in bytes.
    public var peakResidentBytes: Int = 0

    /// The figures of process `pid` now; `nil` when it has ended or /proc cannot be read.
    public static func read(pid: Int32) -> ProcessStats? {
        guard let stat = readProcFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name: state is field 3; utime and stime are 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let status = readProcFile("/proc/\(pid)/status") ?? ""
        func kilobytes(_ field: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(field) }
                .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        }
        return ProcessStats(
            cpuSeconds: (user + system) / ticks, residentBytes: kilobytes("VmRSS:") * 1024,
            peakResidentBytes: kilobytes("VmHWM:") * 1024)
    }

    /// /proc files report a size of 0, so read them to the end rather than by their size.
    private static func readProcFile(_ path: String) -> String? {
        FileHandle(forReadingAtPath: path).map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }
    }
}
