import Foundation
import Glibc
import Synchronization

/// Where accepted documents' bytes wait until Inqom has them. A file is
/// written under a temporary name, synced, renamed, and the directory
/// synced: once `store` returns, a crash cannot lose it.
///
/// Files whose document is done are kept (up to `Pool.files`) to be written
/// again, rather than deleted and created: on ext4 without a journal,
/// creating an inode scans every inode freed in the last five minutes
/// (`recently_deleted`); on this machine a spooled 200 KB file cost 1.3 ms
/// of CPU created that way and 0.3 ms reused. Small files keep their blocks
/// (up to `Pool.bytes` in all) and are overwritten in place: no block is
/// freed then allocated again, and their fsync is cheaper (0.12 against
/// 0.18 ms of CPU for 200 KB).
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

    /// How much the free files may keep.
    public struct Pool: Sendable {
        /// Each costs an inode and a directory entry.
        public var files = 4096
        /// Disk space held by free files, all together.
        public var bytes: Int64 = 64 << 20
        /// A larger file is emptied when its document is done.
        public var bytesPerFile: Int64 = 1 << 20

        public init() {}
    }

    public init(directory: String, pool: Pool = Pool()) throws {
        self.directory = directory
        self.directorySync = DirectorySync(directory: directory)
        self.pool = FreeFiles(pool)
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

    /// The document's bytes are no longer needed: the file is kept for a
    /// later document, emptied unless the pool may keep its blocks.
    public func remove(_ name: String) {
        let path = path(of: name)
        var info = stat()
        // A second link (a rename half-persisted by a crash on a file system
        // without a journal) shares the bytes: only the name goes.
        guard lstat(path, &info) == 0, info.st_nlink == 1, let kept = pool.reserve(bytes: Int64(info.st_size)) else {
            unlink(path)
            return
        }
        let free = FreeFile(name: ".free-\(session)-\(pool.nextNumber())", size: kept)
        guard kept == info.st_size || truncate(path, 0) == 0, rename(path, self.path(of: free.name)) == 0 else {
            pool.cancel(reservedBytes: kept)
            unlink(path)
            return
        }
        pool.put(free)
    }

    /// After a restart, while documents may already come in: removes what
    /// earlier sessions left half written and their files of no document in
    /// `kept` (a crash between a document's last commit and its file's
    /// removal), and takes their free files into the pool.
    public func recover(keeping kept: Set<String>) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !isOwn(name) {
            if name.hasPrefix(".free-") {
                var info = stat()
                guard lstat(path(of: name), &info) == 0, info.st_nlink == 1 else {
                    unlink(path(of: name))
                    continue
                }
                keepEmptied(name)
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
        do {
            return try writeEntry(produce)
        } catch let failure as Failure where failure.isStorageFailure {
            // The disk is full: the blocks free files keep are the first space to give back.
            emptyFreeFiles()
            throw failure
        }
    }

    private func emptyFreeFiles() {
        for file in pool.takeAll(where: { $0.size > 0 }) { keepEmptied(file.name) }
    }

    /// A free file of this spool's own, emptied and back in the pool (deleted if it cannot be).
    private func keepEmptied(_ name: String) {
        guard pool.reserve(bytes: 0) != nil else {
            unlink(path(of: name))
            return
        }
        guard truncate(path(of: name), 0) == 0 else {
            pool.cancel(reservedBytes: 0)
            unlink(path(of: name))
            return
        }
        pool.put(FreeFile(name: name, size: 0))
    }

    private func writeEntry(_ produce: (Writer) throws -> Void) throws -> Entry {
        let name = session + "-" + UUID().uuidString.lowercased()
        let (temporary, fd, previousSize) = try openForWriting(name)
        var isOpen = true
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
            // A free file written over: what is left of its former bytes goes.
            if previousSize > size, ftruncate(fd, off_t(size)) != 0 { throw Self.failure("cannot cut the spool file") }
            guard fsync(fd) == 0 else { throw Self.failure("cannot sync the spool file") }
            close(fd)
            isOpen = false
            guard rename(temporary, path(of: name)) == 0 else { throw Self.failure("cannot rename the spool file") }
            try directorySync.sync()
        } catch {
            // Closed once only: a second close could close another thread's new descriptor.
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        return Entry(name: name, size: size, sha256: hasher.finalize())
    }

    /// A free file of the pool (and the size it had), else a new temporary file.
    private func openForWriting(_ name: String) throws -> (path: String, fd: Int32, previousSize: Int64) {
        while let free = pool.take() {
            let fd = open(path(of: free.name), O_WRONLY | O_CLOEXEC)
            if fd >= 0 { return (path(of: free.name), fd, free.size) }
            unlink(path(of: free.name))
        }
        let temporary = path(of: ".tmp-" + name)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create a spool file") }
        return (temporary, fd, 0)
    }

    static func failure(_ what: String, storage: Bool? = nil) -> Failure {
        let code = errno
        let isStorage = storage ?? [ENOSPC, EROFS, EDQUOT, EIO].contains(code)
        return Failure(description: "\(what): \(String(cString: strerror(code)))", isStorageFailure: isStorage)
    }
}

private struct FreeFile {
    let name: String
    /// Bytes it still holds, written over by its next document.
    let size: Int64
}

/// The spool's free files kept for reuse, and the counter that numbers new ones.
private final class FreeFiles: Sendable {
    private struct State {
        var files: [FreeFile] = []
        /// Places taken by files on their way in (`reserve`, then `put`).
        var reserved = 0
        /// Bytes kept by the files, those on their way in included.
        var bytes: Int64 = 0
        var next: UInt64 = 0
    }

    private let state = Mutex(State())
    private let limits: Spool.Pool

    init(_ limits: Spool.Pool) {
        self.limits = limits
    }

    var count: Int { state.withLock { $0.files.count } }

    func nextNumber() -> UInt64 {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// A place for a file of `bytes`, taken at once so that files released
    /// together never overfill the pool: the bytes it may keep (all of them,
    /// or 0 when they do not fit and it must be emptied), nil when the pool
    /// is full and the file must go.
    func reserve(bytes: Int64) -> Int64? {
        state.withLock { state in
            guard state.files.count + state.reserved < limits.files else { return nil }
            state.reserved += 1
            guard bytes <= limits.bytesPerFile, state.bytes + bytes <= limits.bytes else { return 0 }
            state.bytes += bytes
            return bytes
        }
    }

    /// A file into the place `reserve` gave it.
    func put(_ file: FreeFile) {
        state.withLock { state in
            state.reserved -= 1
            state.files.append(file)
        }
    }

    /// The file could not come in after all.
    func cancel(reservedBytes: Int64) {
        state.withLock { state in
            state.reserved -= 1
            state.bytes -= reservedBytes
        }
    }

    /// Takes out every file that matches, for its owner to change.
    func takeAll(where matches: (FreeFile) -> Bool) -> [FreeFile] {
        state.withLock { state in
            let taken = state.files.filter(matches)
            state.files.removeAll(where: matches)
            state.bytes -= taken.reduce(0) { $0 + $1.size }
            return taken
        }
    }

    func take() -> FreeFile? {
        state.withLock { state in
            guard let file = state.files.popLast() else { return nil }
            state.bytes -= file.size
            return file
        }
    }
}
