import Foundation
import Glibc

/// Group fsync of a directory: a caller is done once a sync that began
/// after its request has succeeded, so concurrent renames share one fsync.
final class DirectorySync: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let directory: String
    private let condition = NSCondition()
    private var requested: UInt64 = 0
    private var syncedThrough: UInt64 = 0
    private var syncing = false

    init(directory: String) {
        self.directory = directory
    }

    /// Blocks until the directory's entries as they are now are durable.
    func sync() throws(Spool.Failure) {
        condition.lock()
        defer { condition.unlock() }
        requested += 1
        let ticket = requested
        while syncedThrough < ticket {
            if syncing {
                condition.wait()
                continue
            }
            syncing = true
            let covers = requested
            condition.unlock()
            let failure = fsyncDirectory()
            condition.lock()
            syncing = false
            if failure == nil { syncedThrough = max(syncedThrough, covers) }
            condition.broadcast()
            if let failure { throw failure }
        }
    }

    private func fsyncDirectory() -> Spool.Failure? {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if fd >= 0 { close(fd) } }
        guard fd >= 0, fsync(fd) == 0 else { return Spool.failure("cannot sync the spool directory") }
        return nil
    }
}
