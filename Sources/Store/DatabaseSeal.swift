import Foundation
import Glibc

/// The record that the database file, as it was at a clean stop, passed
/// `PRAGMA quick_check`: its fingerprint, in `pushdoc.sqlite-verified`.
/// `PRAGMA quick_check`'s verdict depends only on the file's bytes once no
/// WAL frame is pending, so a start that finds the WAL empty and the same
/// fingerprint knows that verdict without running it again. Anything that
/// changes the file — a later write, a crash, bit rot, another program —
/// leaves WAL frames or another fingerprint, and that start checks.
struct DatabaseSeal {
    let databasePath: String

    private var recordPath: String { databasePath + "-verified" }

    /// The file's fingerprint when it is byte for byte the one sealed, else nil.
    func unchangedFingerprint() -> FileFingerprint? {
        guard walIsEmpty,
              let text = try? String(contentsOfFile: recordPath, encoding: .utf8),
              let sealed = FileFingerprint(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        var info = stat()
        guard stat(databasePath, &info) == 0, Int64(info.st_size) == sealed.size else { return nil }
        return FileFingerprint(path: databasePath) == sealed ? sealed : nil
    }

    /// The file as it is now, once the WAL is checkpointed.
    func currentFingerprint() throws -> FileFingerprint {
        guard walIsEmpty else { throw Failure(description: "WAL frames are still pending") }
        guard let fingerprint = FileFingerprint(path: databasePath) else {
            throw Failure(description: "cannot read \(databasePath): \(String(cString: strerror(errno)))")
        }
        return fingerprint
    }

    /// Records a fingerprint of the file that passed the check. Not synced:
    /// a record lost or torn by a crash only costs the next start a check.
    func record(_ fingerprint: FileFingerprint) throws {
        let temporary = recordPath + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((fingerprint.description + "\n").utf8)),
              rename(temporary, recordPath) == 0
        else {
            unlink(temporary)
            throw Failure(description: "cannot write \(recordPath): \(String(cString: strerror(errno)))")
        }
    }

    private var walIsEmpty: Bool {
        var info = stat()
        return stat(databasePath + "-wal", &info) != 0 ? errno == ENOENT : info.st_size == 0
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
