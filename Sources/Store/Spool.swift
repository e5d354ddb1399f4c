import Foundation
import Glibc

/// Where accepted documents' bytes wait until Inqom has them. A file is
/// written under a temporary name, synced, renamed, and the directory
/// synced: once `store` returns, a crash cannot lose it.
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

    public init(directory: String) throws {
        self.directory = directory
        self.directorySync = DirectorySync(directory: directory)
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

    public func remove(_ name: String) {
        unlink(path(of: name))
    }

    public func exists(_ name: String) -> Bool {
        access(path(of: name), F_OK) == 0
    }

    /// Names in the spool, temporary files left by a crash excluded.
    public func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }
    }

    /// Removes temporary files a crash left half written.
    public func removeTemporaryFiles() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(".tmp-") {
            unlink(path(of: name))
        }
    }

    private typealias Writer = (UnsafeRawBufferPointer, Int64) throws -> Void

    private func store(_ produce: (Writer) throws -> Void) throws -> Entry {
        let name = UUID().uuidString.lowercased()
        let temporary = path(of: ".tmp-" + name)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create a spool file") }
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

    static func failure(_ what: String, storage: Bool? = nil) -> Failure {
        let code = errno
        let isStorage = storage ?? [ENOSPC, EROFS, EDQUOT, EIO].contains(code)
        return Failure(description: "\(what): \(String(cString: strerror(code)))", isStorageFailure: isStorage)
    }
}
