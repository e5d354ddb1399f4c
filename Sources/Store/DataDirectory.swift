import Foundation
import Glibc

/// The engine's data directory: created 0700, held with an exclusive lock
/// for the life of the process (a second engine refuses to start), holding
/// `pushdoc.sqlite`, `spool/` and `master.key`. It and the key must belong
/// to the engine's user: a directory prepared by another user, with a key of
/// its choosing, would let that user read every secret and swap the database.
public final class DataDirectory: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    /// Held open (and locked) until the process exits.
    private let lockFD: Int32

    public var databasePath: String { path + "/pushdoc.sqlite" }
    public var masterKeyPath: String { path + "/master.key" }

    /// Creates the directory if needed and takes its lock.
    public init(path: String) throws(Failure) {
        self.path = path
        try Self.createPrivateDirectory(path)
        let lockPath = path + "/pushdoc.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot open \(lockPath): \(lastError())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Failure(
                description: "data directory \(path) is in use by another pushdoc engine"
                    + (holder.map { $0.isEmpty ? "" : " (pid \($0))" } ?? ""))
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.lockFD = fd
    }

    /// The 32-byte key that encrypts secrets at rest: `PUSHDOC_MASTER_KEY`
    /// (base64) when set, else `master.key`, created 0600 at first start.
    public func masterKey(environment: [String: String]) throws(Failure) -> [UInt8] {
        if let key = try Self.environmentKey(environment) { return key }
        let fd = open(masterKeyPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            guard errno == ENOENT else { throw Failure(description: "cannot open \(masterKeyPath): \(lastError())") }
            return try createMasterKey()
        }
        defer { close(fd) }
        try Self.checkPrivate(fd, masterKeyPath)
        var key = [UInt8](repeating: 0, count: 33)
        let count = key.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count == 32 else {
            throw Failure(description: "\(masterKeyPath) must hold exactly 32 bytes (it holds \(max(count, 0))\(count > 32 ? " or more" : ""))")
        }
        return Array(key[..<32])
    }

    /// The key every engine of a deployment shares (PostgreSQL): from
    /// `PUSHDOC_MASTER_KEY`, or from `file` holding the same base64 text and
    /// readable by the engine's user only; never one made up here.
    public static func sharedMasterKey(environment: [String: String], file: String?) throws(Failure) -> [UInt8] {
        if let key = try environmentKey(environment) { return key }
        guard let file else {
            throw Failure(description: "with PostgreSQL, every engine needs the same master key: set PUSHDOC_MASTER_KEY or --master-key-file")
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(file): \(lastError())") }
        defer { close(fd) }
        try checkPrivate(fd, file)
        var text = [UInt8](repeating: 0, count: 256)
        let count = text.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let encoded = String(decoding: text[..<max(count, 0)], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let key = Data(base64Encoded: encoded), key.count == 32 else {
            throw Failure(description: "\(file) must hold a 32-byte key in base64")
        }
        return Array(key)
    }

    private static func environmentKey(_ environment: [String: String]) throws(Failure) -> [UInt8]? {
        guard let encoded = environment["PUSHDOC_MASTER_KEY"] else { return nil }
        guard let key = Data(base64Encoded: encoded), key.count == 32 else {
            throw Failure(description: "PUSHDOC_MASTER_KEY must be 32 bytes in base64")
        }
        return Array(key)
    }

    /// A key file must be the engine's user's, and no one else's to read.
    private static func checkPrivate(_ fd: Int32, _ path: String) throws(Failure) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(description: "cannot read \(path): \(lastError())") }
        guard info.st_uid == geteuid() else {
            throw Failure(description: "\(path) belongs to uid \(info.st_uid), not to the engine's user (uid \(geteuid()))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw Failure(description: "\(path) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))): make it 0600")
        }
    }

    /// How this engine is named among others: `host-suffix`, the suffix
    /// random at the first start and kept in `node-id`.
    public func nodeID(host: String) throws(Failure) -> String {
        let path = path + "/node-id"
        if let kept = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !kept.isEmpty {
            return kept
        }
        let made = host + "-" + Hex.encode((0..<3).map { _ in UInt8.random(in: .min ... .max) })
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(lastError())") }
        defer { close(fd) }
        let bytes = Array((made + "\n").utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count, fsync(fd) == 0 else {
            throw Failure(description: "cannot write \(path): \(lastError())")
        }
        return made
    }

    private func createMasterKey() throws(Failure) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // O_EXCL: never overwrite a key that appeared meanwhile.
        let fd = open(masterKeyPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(masterKeyPath): \(lastError())") }
        defer { close(fd) }
        let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == key.count, fsync(fd) == 0 else {
            unlink(masterKeyPath)
            throw Failure(description: "cannot write \(masterKeyPath): \(lastError())")
        }
        try syncDirectory()
        return key
    }

    /// A subdirectory for files that need not outlive this run (copies of
    /// documents other engines accepted), emptied of an earlier run's.
    public func scratch(_ name: String) throws(Failure) -> String {
        let scratch = path + "/" + name
        if mkdir(scratch, 0o700) != 0, errno != EEXIST { throw Failure(description: "cannot create \(scratch): \(lastError())") }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [] { unlink(scratch + "/" + file) }
        return scratch
    }

    /// Makes a rename or creation inside the directory durable.
    public func syncDirectory() throws(Failure) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(lastError())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(description: "cannot sync \(path): \(lastError())") }
    }

    private static func createPrivateDirectory(_ path: String) throws(Failure) {
        var components: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            components.append(String(part))
            let prefix = components.joined(separator: "/")
            guard !prefix.isEmpty else { continue }
            if mkdir(prefix, 0o700) != 0, errno != EEXIST {
                throw Failure(description: "cannot create \(prefix): \(lastError())")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK else {
            throw Failure(description: "data directory \(path) is a symbolic link: give the directory's own path")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(description: "\(path) is not a directory")
        }
        guard info.st_uid == geteuid() else {
            throw Failure(description: "data directory \(path) belongs to uid \(info.st_uid), not to the engine's user (uid \(geteuid()))")
        }
        // Only the engine's user may look inside, whoever created the directory.
        if info.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw Failure(description: "cannot make \(path) private (mode 0700): \(lastError())")
        }
    }
}

func lastError() -> String { String(cString: strerror(errno)) }
