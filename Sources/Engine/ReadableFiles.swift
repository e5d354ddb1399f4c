import CLinux
import Glibc
import Logging

/// Which files `push.submit {file}` may make the engine read. Whoever can
/// connect may name any path; the engine reads with its own rights, so it
/// must never read its own secrets (`/proc/self/environ`, `master.key`, the
/// database), kernel or device files, or — with `--files-root` — anything
/// outside that root.
///
/// The check is made on the descriptor already opened, by its real path
/// (`/proc/self/fd`) and its file system: a link swapped between a check of
/// the path and the open cannot make the engine read what it checked
/// against. Every refusal is the same error, so that a client learns nothing
/// about what exists where it may not read.
struct ReadableFiles: Sendable {
    /// The canonical `--files-root`, if any.
    let root: String?
    /// Canonical directories whose files are never read.
    let forbidden: [String]

    init(root: String?, dataDirectory: String) {
        self.root = root.map(Self.canonical)
        self.forbidden = ["/proc", "/sys", "/dev", Self.canonical(dataDirectory)]
    }

    static let refusal = EngineError.fileUnreadable(
        detail: "the engine cannot read this file: it does not exist, is not a regular file, "
            + "or is not where the engine may read (outside --files-root, under /proc, /sys, /dev or its data directory)")

    /// An open, readable descriptor of a regular file the engine may read;
    /// the caller closes it.
    func open(_ path: String, logger: Logger) throws -> Int32 {
        guard path.hasPrefix("/") else {
            throw EngineError.invalidParameter(field: "file", message: "must be an absolute path")
        }
        guard !path.utf8.contains(where: { $0 < 0x20 }) else {
            throw EngineError.invalidParameter(field: "file", message: "must not contain NUL or other control characters")
        }
        // O_NONBLOCK: a FIFO would otherwise wait for a writer, forever; O_NOCTTY:
        // a terminal never becomes the engine's.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            logger.info("file refused", metadata: ["file": "\(path)", "cause": "\(String(cString: strerror(errno)))"])
            throw Self.refusal
        }
        if let cause = refusal(of: fd) {
            close(fd)
            logger.info("file refused", metadata: ["file": "\(path)", "cause": "\(cause)"])
            throw Self.refusal
        }
        return fd
    }

    /// Why the opened file may not be read, or nil when it may.
    private func refusal(of fd: Int32) -> String? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        var system = statfs()
        guard fstatfs(fd, &system) == 0 else { return "file system unknown" }
        if Self.kernelFileSystems.contains(Int(system.f_type)) { return "a kernel file system" }
        guard let real = Self.realPath(of: fd) else { return "real path unknown" }
        if let root, !Self.path(real, isWithin: root) { return "outside --files-root (\(real))" }
        if let place = forbidden.first(where: { Self.path(real, isWithin: $0) }) { return "under \(place)" }
        return nil
    }

    /// Refused wherever they are mounted.
    private static let kernelFileSystems = Set([
        PROC_SUPER_MAGIC, SYSFS_MAGIC, DEVPTS_SUPER_MAGIC, DEBUGFS_MAGIC, SECURITYFS_MAGIC, TRACEFS_MAGIC,
        CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC,
    ].map { Int($0) })

    static func path(_ path: String, isWithin directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    /// The path the kernel holds for an open descriptor: what was opened,
    /// whatever links were followed or swapped on the way.
    private static func realPath(of fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count)
        guard count > 0, count < buffer.count, buffer[0] == UInt8(ascii: "/") else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    private static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
