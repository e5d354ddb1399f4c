import Foundation
import Glibc
import Synchronization

/// Where accepted documents' bytes wait until Inqom has them. A file is
/// written under a temporary name, synced, renamed, and the directory
/// synced: once `store` returns, a crash cannot lose it.
///
/// Files whose document is done are emptied and kept (up to
/// `poolCapacity`) to be written again, rather than deleted and created:
/// on ext4 without a journal, creating an inode scans every inode freed in
/// the last five minutes (`recently_deleted`); on this machine a spooled
/// 200 KB file cost 1.3 ms of CPU created that way and 0.3 ms reused.
///
/// Every name this spool writes carries its session (random, one per
/// start), so that `recover` can run while documents come in: it touches
/// only what earlier sessions left.
public struct Spool: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// ENOSPC, EROFS, EDQUOT: the disk, not the input, is at fault.
        public let isStorageFailure: Bool
    }

    /// What was stored: its name in the spool, its size and SHA-256.
    public struct Entry: Sendable {
        public let name: String
        public let size: Int64
        public let sha256: String
    }

    public let directory: String
    private let directorySync: DirectorySync
    private let pool: FreeFiles
    private let session = Hex.encode((0..<4).map { _ in UInt8.random(in: .min ... .max) })

    /// Empty files cost an inode and a directory entry each.
    public init(directory: String, poolCapacity: Int = 4096) throws {
        self.directory = directory
        self.directorySync = DirectorySync(directory: directory)
        self.pool = FreeFiles(capacity: poolCapacity)
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw Self.failure("cannot create \(directory)")
        }
    }

    public func path(of name: String) -> String { directory + "/" + name }

    /// Copies a file (streamed, never whole in memory) into the spool,
    /// refusing more than `maxBytes`.
    public func store(copying source: Int32, maxBytes: Int64) throws -> Entry {
        try store { write in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count >= 0 else { throw Self.failure("cannot read the file", storage: false) }
                if count == 0 { return }
                try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<count]), maxBytes) }
            }
        }
    }

    public func store(bytes: [UInt8]) throws -> Entry {
        try store { write in try bytes.withUnsafeBytes { try write($0, Int64.max) } }
    }

    /// The document's bytes are no longer needed: the file is emptied at
    /// once (its space is free) and kept for a later document.
    public func remove(_ name: String) {
        let path = path(of: name)
        var info = stat()
        // A second link (a rename half-persisted by a crash on a file system
        // without a journal) shares the bytes: only the name goes.
        guard pool.hasRoom, lstat(path, &info) == 0, info.st_nlink == 1, truncate(path, 0) == 0 else {
            unlink(path)
            return
        }
        let free = ".free-\(session)-\(pool.nextNumber())"
        guard rename(path, self.path(of: free)) == 0 else {
            unlink(path)
            return
        }
        if !pool.put(free) { unlink(self.path(of: free)) }
    }

    /// After a restart, while documents may already come in: removes what
    /// earlier sessions left half written and their files of no document in
    /// `kept` (a crash between a document's last commit and its file's
    /// removal), and takes their free files into the pool.
    public func recover(keeping kept: Set<String>) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !isOwn(name) {
            if name.hasPrefix(".free-") {
                var info = stat()
                let path = path(of: name)
                if lstat(path, &info) != 0 || info.st_nlink != 1 || truncate(path, 0) != 0 || !pool.put(name) { unlink(path) }
            } else if name.hasPrefix(".") || !kept.contains(name) {
                remove(name)
            }
        }
    }

    private func isOwn(_ name: String) -> Bool {
        name.hasPrefix(session) || name.hasPrefix(".tmp-" + session) || name.hasPrefix(".free-" + session)
    }

    /// Files in the pool, for tests.
    public var freeFiles: Int { pool.count }

    private typealias Writer = (UnsafeRawBufferPointer, Int64) throws -> Void

    private func store(_ produce: (Writer) throws -> Void) throws -> Entry {
        let name = session + "-" + UUID().uuidString.lowercased()
        let (temporary, fd) = try openForWriting(name)
        var size: Int64 = 0
        let hasher = SHA256()
        do {
            try produce { bytes, maxBytes in
                size += Int64(bytes.count)
                guard size <= maxBytes else { throw Failure(description: "too large", isStorageFailure: false) }
                hasher.update(bytes)
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { throw Self.failure("cannot write the spool file") }
                    offset += written
                }
            }
            guard fsync(fd) == 0 else { throw Self.failure("cannot sync the spool file") }
            close(fd)
            guard rename(temporary, path(of: name)) == 0 else { throw Self.failure("cannot rename the spool file") }
            try directorySync.sync()
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        return Entry(name: name, size: size, sha256: hasher.finalize())
    }

    /// A free file of the pool, else a new temporary file.
    private func openForWriting(_ name: String) throws -> (path: String, fd: Int32) {
        while let free = pool.take() {
            let fd = open(path(of: free), O_WRONLY | O_TRUNC | O_CLOEXEC)
            if fd >= 0 { return (path(of: free), fd) }
            unlink(path(of: free))
        }
        let temporary = path(of: ".tmp-" + name)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create a spool file") }
        return (temporary, fd)
    }

    static func failure(_ what: String, storage: Bool? = nil) -> Failure {
        let code = errno
        let isStorage = storage ?? [ENOSPC, EROFS, EDQUOT, EIO].contains(code)
        return Failure(description: "\(what): \(String(cString: strerror(code)))", isStorageFailure: isStorage)
    }
}

/// The names of the spool's empty files kept for reuse, and the counter
/// that numbers new ones.
private final class FreeFiles: Sendable {
    private struct State {
        var names: [String] = []
        var next: UInt64 = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { state.withLock { $0.names.count } }
    var hasRoom: Bool { count < capacity }

    func nextNumber() -> UInt64 {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// False when the pool is full: the caller deletes the file.
    func put(_ name: String) -> Bool {
        state.withLock { state in
            guard state.names.count < capacity else { return false }
            state.names.append(name)
            return true
        }
    }

    func take() -> String? {
        state.withLock { $0.names.popLast() }
    }
}
