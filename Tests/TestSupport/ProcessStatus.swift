import Foundation

/// What /proc says of a process (this one when `pid` is nil): a field of
/// `/proc/PID/status` in kB (`VmRSS`, `VmHWM`, `RssAnon`, ...), 0 when absent.
public enum ProcessStatus {
    public static func kilobytes(_ field: String, pid: pid_t? = nil) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
