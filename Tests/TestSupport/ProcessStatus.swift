import Foundation

/// What /proc says of a process (this one when `pid` is nil): a field of
/// `/proc/PID/status` in kB (`VmRSS`, `VmHWM`, `RssAnon`, ...), 0 when absent.
public enum ProcessStatus {
    public static func kilobytes(_ field: String, pid: pid_t? = nil) -> Int { number(field, pid: pid) }

    /// The number a field of `/proc/PID/status` holds (`Threads`, `VmRSS`, ...), 0 when absent.
    public static func number(_ field: String, pid: pid_t? = nil) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
    }

    /// How many descriptors a process holds open.
    public static func openDescriptors(pid: pid_t) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    /// CPU time (user and system) a process has used, from `/proc/PID/stat`.
    public static func cpuSeconds(pid: pid_t? = nil) -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/stat", encoding: .utf8)) ?? ""
        // Fields after the command name, which is in parentheses and may hold spaces.
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
