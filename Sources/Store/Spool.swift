import Foundation
import Glibc
import Synchronization

/// Where accepted documents' bytes wait until Inqom has them. A document's
/// file is the one its row names; a file no row names is free, and is kept
/// (up to `Pool.files`) to be written over by a later document rather than
/// deleted and created again: on ext4 without a journal, creating an inode
/// scans every inode freed in the last five minutes (`recently_deleted`),
/// which made a new file several times dearer than a reused one. Free files
/// keep their blocks (within `Pool`'s bounds) and are overwritten in place:
/// no block is freed then allocated again. When the disk fills anyway,
/// free files give their blocks back and the document is written again in
/// the space they held.
///
/// Files keep their names for life: a free file written over is synced and
/// is then the new document's, with no rename and no directory sync. A file is written only while no row names it, and `store`
/// returns once its bytes, and a new file's name, are durable: a crash at
/// any moment leaves every row's file whole, and files no row names go back
/// to the pool (`recover`).
///
/// New files' names carry their session (random, one per start), so that
/// `recover` can run while documents come in: it touches only what earlier
/// sessions left.
public struct Spool: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// ENOSPC, EROFS, EDQUOT: the disk, not the input, is at fault.
        public let isStorageFailure: Bool
    }

    /// The bytes went past the limit they were stored under.
    public struct TooLarge: Error {}

    /// What was stored: its name in the spool, its size and SHA-256.
    public struct Entry: Sendable {
        public let name: String
        public let size: Int64
        public let sha256: String
    }

    public let directory: String
    /// Files and names made durable before `store` returns; not where the
    /// spool only stages bytes that another store keeps (PostgreSQL).
    private let syncs: Bool
    private let directorySync: DirectorySync
    private let pool: FreeFiles
    private let session = Hex.encode((0..<4).map { _ in UInt8.random(in: .min ... .max) })

    /// How much the free files may keep.
    public struct Pool: Sendable {
        /// Each costs an inode and a directory entry.
        public var files = 4096
        /// Disk space held by free files, all together; never more than a
        /// quarter of the space spare on the file system (what is free
        /// there, plus what free files hold), measured at each release.
        public var bytes: Int64 = 1 << 30
        /// A larger file is emptied when its document is done.
        public var bytesPerFile: Int64 = 1 << 20

        public init() {}
    }

    public init(directory: String, pool: Pool = Pool(), syncs: Bool = true) throws {
        self.directory = directory
        self.syncs = syncs
        self.directorySync = DirectorySync(directory: directory)
        self.pool = FreeFiles(pool)
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw Self.failure("cannot create \(directory)")
        }
    }

    public func path(of name: String) -> String { directory + "/" + name }

    /// Copies a file (streamed, never whole in memory) into the spool,
    /// refusing more than `maxBytes`. `source` is read from its start with
    /// `pread`, so that a copy can be made again.
    public func store(copying source: Int32, maxBytes: Int64) throws -> Entry {
        try store { write in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var offset: off_t = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, offset) }
                if count < 0, errno == EINTR { continue }
                guard count >= 0 else { throw Self.failure("cannot read the file", storage: false) }
                if count == 0 { return }
                offset += off_t(count)
                try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<count]), maxBytes) }
            }
        }
    }

    public func store(bytes: some ContiguousBytes) throws -> Entry {
        try store { write in try bytes.withUnsafeBytes { try write($0, Int64.max) } }
    }

    /// The document's bytes are no longer needed (its row no longer names
    /// the file): the file is kept for a later document, emptied unless the
    /// pool may keep its blocks.
    public func release(_ name: String) {
        let path = path(of: name)
        var info = stat()
        // A second link (left by an earlier version's rename, half-persisted
        // by a crash on a file system without a journal) shares the bytes: only the name goes.
        guard lstat(path, &info) == 0, info.st_nlink == 1,
            let kept = pool.reserve(bytes: Int64(info.st_size), spaceFree: spaceFree())
        else {
            unlink(path)
            return
        }
        guard kept == info.st_size || truncate(path, 0) == 0 else {
            pool.cancel(reservedBytes: kept)
            unlink(path)
            return
        }
        pool.put(FreeFile(name: name, size: kept))
    }

    /// After a restart, while documents may already come in: takes the
    /// files earlier sessions left that no document in `kept` names (a crash
    /// while one was written, or between a document's last commit and its
    /// file's release) into the pool.
    public func recover(keeping kept: Set<String>) {
        // Their names, durable from here on: a free file later written over
        // for a document keeps its name across a power loss.
        guard (try? directorySync.sync()) != nil else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !isOwn(name) && !kept.contains(name) {
            release(name)
        }
    }

    private func isOwn(_ name: String) -> Bool {
        name.hasPrefix(session + "-")
    }

    /// Files in the pool, for tests.
    public var freeFiles: Int { pool.count }

    private typealias Writer = (UnsafeRawBufferPointer, Int64) throws -> Void

    private func store(_ produce: (Writer) throws -> Void) throws -> Entry {
        do {
            return try writeEntry(produce)
        } catch let failure as Failure where failure.isStorageFailure {
            // The disk is full: the blocks free files keep are the first space to give back.
            guard emptyFreeFiles() > 0 else { throw failure }
            return try writeEntry(produce)
        }
    }

    /// Empties the free files; says how many bytes they gave back.
    private func emptyFreeFiles() -> Int64 {
        let files = pool.takeAll(where: { $0.size > 0 })
        for file in files { keepEmptied(file.name) }
        return files.reduce(0) { $0 + $1.size }
    }

    /// Bytes the spool's file system has free for us; 0 when unknown.
    private func spaceFree() -> Int64 {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// A free file, emptied and back in the pool (deleted if it cannot be).
    private func keepEmptied(_ name: String) {
        guard pool.reserve(bytes: 0, spaceFree: 0) != nil else {
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
        let (name, fd, previousSize, isNew) = try openForWriting()
        var isOpen = true
        var size: Int64 = 0
        let hasher = SHA256()
        do {
            try produce { bytes, maxBytes in
                size += Int64(bytes.count)
                guard size <= maxBytes else { throw TooLarge() }
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
            guard !syncs || fsync(fd) == 0 else { throw Self.failure("cannot sync the spool file") }
            close(fd)
            isOpen = false
            if isNew, syncs { try directorySync.sync() }
        } catch {
            // Closed once only: a second close could close another thread's new descriptor.
            if isOpen { close(fd) }
            // No row names it yet.
            unlink(path(of: name))
            throw error
        }
        return Entry(name: name, size: size, sha256: hasher.finalize())
    }

    /// A free file of the pool (and the size it had), else a new file.
    private func openForWriting() throws -> (name: String, fd: Int32, previousSize: Int64, isNew: Bool) {
        while let free = pool.take() {
            let fd = open(path(of: free.name), O_WRONLY | O_CLOEXEC)
            if fd >= 0 { return (free.name, fd, free.size, false) }
            unlink(path(of: free.name))
        }
        let name = session + "-" + UUID().uuidString.lowercased()
        let fd = open(path(of: name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create a spool file") }
        return (name, fd, 0, true)
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
    }

    private let state = Mutex(State())
    private let limits: Spool.Pool

    init(_ limits: Spool.Pool) {
        self.limits = limits
    }

    var count: Int { state.withLock { $0.files.count } }

    /// A place for a file of `bytes`, taken at once so that files released
    /// together never overfill the pool: the bytes it may keep (all of them,
    /// or 0 when they do not fit and it must be emptied), nil when the pool
    /// is full and the file must go. `spaceFree` is what the file system
    /// has free besides.
    func reserve(bytes: Int64, spaceFree: Int64) -> Int64? {
        state.withLock { state in
            guard state.files.count + state.reserved < limits.files else { return nil }
            state.reserved += 1
            let held = state.bytes + bytes
            guard bytes <= limits.bytesPerFile, held <= limits.bytes, 4 * held <= spaceFree + held else { return 0 }
            state.bytes = held
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
