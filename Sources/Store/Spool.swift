import Foundation
import Glibc
import Synchronization

/// Where accepted documents' bytes wait until Inqom has them. A file is
/// written under a temporary name, synced, renamed, and the directory
/// synced: once `store` returns, a crash cannot lose it.
///
/// Files whose document is done are emptied and kept (`.free-N`, up to
/// `poolCapacity`) to be written again, rather than deleted and created:
/// on ext4 without a journal, creating an inode scans every inode freed in
/// the last five minutes (`recently_deleted`); on this machine a spooled
/// 200 KB file cost 1.3 ms of CPU created that way and 0.3 ms reused.
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
        let number = pool.nextNumber()
        guard pool.hasRoom, truncate(path, 0) == 0, rename(path, freePath(number)) == 0 else {
            unlink(path)
            return
        }
        if !pool.put(number) { unlink(freePath(number)) }
    }

    /// After a restart: removes temporary files a crash left half written
    /// and the files of no document in `kept` (a crash between the
    /// document's last commit and the file's removal); free files go back
    /// to the pool.
    public func recover(keeping kept: Set<String>) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        // Free files first: their numbers must be known before any other is given.
        var others: [String] = []
        for name in names {
            guard name.hasPrefix(Self.freePrefix), let number = UInt32(name.dropFirst(Self.freePrefix.count)) else {
                others.append(name)
                continue
            }
            pool.skip(past: number)
            if truncate(path(of: name), 0) != 0 || !pool.put(number) { unlink(path(of: name)) }
        }
        for name in others where name.hasPrefix(".") || !kept.contains(name) {
            remove(name)
        }
    }

    /// Files in the pool, for tests.
    public var freeFiles: Int { pool.count }

    private static let freePrefix = ".free-"

    private func freePath(_ number: UInt32) -> String { path(of: Self.freePrefix + String(number)) }

    private typealias Writer = (UnsafeRawBufferPointer, Int64) throws -> Void

    private func store(_ produce: (Writer) throws -> Void) throws -> Entry {
        let name = UUID().uuidString.lowercased()
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
        while let number = pool.take() {
            let fd = open(freePath(number), O_WRONLY | O_TRUNC | O_CLOEXEC)
            if fd >= 0 { return (freePath(number), fd) }
            unlink(freePath(number))
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

/// The numbers of the spool's empty files kept for reuse (numbers rather
/// than names: a full pool holds 16 KB).
private final class FreeFiles: Sendable {
    private struct State {
        var numbers: [UInt32] = []
        var next: UInt32 = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { state.withLock { $0.numbers.count } }
    var hasRoom: Bool { count < capacity }

    /// A number no free file has.
    func nextNumber() -> UInt32 {
        state.withLock { state in
            defer { state.next &+= 1 }
            return state.next
        }
    }

    /// Numbers found on disk are not given again.
    func skip(past number: UInt32) {
        state.withLock { $0.next = max($0.next, number &+ 1) }
    }

    /// False when the pool is full: the caller deletes the file.
    func put(_ number: UInt32) -> Bool {
        state.withLock { state in
            guard state.numbers.count < capacity else { return false }
            state.numbers.append(number)
            return true
        }
    }

    func take() -> UInt32? {
        state.withLock { $0.numbers.popLast() }
    }
}
