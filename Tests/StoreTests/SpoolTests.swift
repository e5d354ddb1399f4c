import Foundation
import Glibc
import TestSupport
import Testing

@testable import Store

struct SpoolTests {
    private func entries(_ spool: Spool) -> [String: Int] {
        var sizes: [String: Int] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: spool.directory)) ?? [] {
            var info = stat()
            stat(spool.path(of: name), &info)
            sizes[name] = Int(info.st_size)
        }
        return sizes
    }

    private func inode(_ path: String) -> ino_t {
        var info = stat()
        stat(path, &info)
        return info.st_ino
    }

    @Test func aRemovedFileIsWrittenOverByTheNextDocument() throws {
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool")
        let first = try spool.store(bytes: Array(repeating: 1, count: 100_000))
        let firstInode = inode(spool.path(of: first.name))
        spool.release(first.name)
        // The free file keeps its name and its blocks for the next document.
        #expect(entries(spool) == [first.name: 100_000])
        #expect(spool.freeFiles == 1)

        // Shorter than what it is written over: nothing of the former bytes is left.
        let second = try spool.store(bytes: Array("second".utf8))
        #expect(second.name == first.name)
        #expect(inode(spool.path(of: second.name)) == firstInode)
        #expect(try Data(contentsOf: URL(fileURLWithPath: spool.path(of: second.name))) == Data("second".utf8))
        #expect(second.sha256 == SHA256.hex(Array("second".utf8)))
        #expect(entries(spool) == [second.name: 6])
        #expect(spool.freeFiles == 0)
    }

    /// A file that grew past the limit after it was checked: refused as too large, nothing left in the spool.
    @Test func aCopyPastItsLimitIsTooLargeAndLeavesNoDocument() throws {
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool")
        let source = TemporaryDirectory.make(prefix: "pushdoc-spool-source") + "/grown.pdf"
        try Data(repeating: 9, count: 70_000).write(to: URL(fileURLWithPath: source))
        let fd = open(source, O_RDONLY)
        defer { close(fd) }
        #expect(throws: Spool.TooLarge.self) { try spool.store(copying: fd, maxBytes: 65_536) }
        #expect(entries(spool).isEmpty)
        #expect(try spool.store(copying: fd, maxBytes: 70_000).size == 70_000)
    }

    @Test func largeFilesAreEmptiedAndThePoolHoldsAtMostItsBytes() throws {
        var limits = Spool.Pool()
        limits.bytes = 250_000
        limits.bytesPerFile = 100_000
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool", pool: limits)
        let large = try spool.store(bytes: Array(repeating: 2, count: 150_000))
        spool.release(large.name)
        #expect(entries(spool).values.allSatisfy { $0 == 0 })
        let small = try (0..<4).map { _ in try spool.store(bytes: Array(repeating: 3, count: 90_000)) }
        for entry in small { spool.release(entry.name) }
        // Two keep their 90,000 bytes; the others are emptied to stay within 250,000.
        #expect(spool.freeFiles == 4)
        #expect(entries(spool).values.reduce(0, +) == 180_000)
    }

    /// Workers release their documents' files at the same time, while the
    /// bytes kept are at the pool's bound: each file is kept (emptied when its
    /// bytes do not fit), none is deleted for want of room it had been told
    /// it had, and the bound holds.
    @Test func filesReleasedTogetherAreAllKeptWithinTheBytes() throws {
        var limits = Spool.Pool()
        limits.bytes = 20 * 10_000
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool", pool: limits)
        let stored = try (0..<400).map { _ in try spool.store(bytes: Array(repeating: 4, count: 10_000)) }
        DispatchQueue.concurrentPerform(iterations: 8) { share in
            for index in stride(from: share, to: stored.count, by: 8) { spool.release(stored[index].name) }
        }
        #expect(spool.freeFiles == 400)
        #expect(entries(spool).count == 400)
        #expect(entries(spool).values.reduce(0, +) <= 20 * 10_000)
    }

    @Test func thePoolIsBoundedAndExtraFilesAreDeleted() throws {
        var limits = Spool.Pool()
        limits.files = 8
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool", pool: limits)
        let stored = try (0..<18).map { _ in try spool.store(bytes: [7]) }
        for entry in stored { spool.release(entry.name) }
        #expect(spool.freeFiles == 8)
        #expect(entries(spool).count == 8)
    }

    @Test func recoveryKeepsNamedFilesAndTakesEveryOtherIntoThePool() throws {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool"
        let before = try Spool(directory: directory)
        let kept = try before.store(bytes: Array("queued document".utf8))
        let orphan = try before.store(bytes: Array("transmitted, not yet removed".utf8))
        let free = try (0..<3).map { _ in try before.store(bytes: [1]) }
        for file in free { before.release(file.name) }
        // A crash while a free file was written over, and a file an earlier version left half written.
        try Data("half".utf8).write(to: URL(fileURLWithPath: before.path(of: free[0].name)))
        try Data("half".utf8).write(to: URL(fileURLWithPath: before.path(of: ".tmp-crashed")))

        let after = try Spool(directory: directory)
        // The new session stores before recovery has run: recovery leaves its files alone.
        let fresh = try after.store(bytes: Array("arrived at once".utf8))
        after.recover(keeping: [kept.name])
        let expected = [kept.name: 15, fresh.name: 15, orphan.name: 28, free[0].name: 4, free[1].name: 1, free[2].name: 1, ".tmp-crashed": 4]
        #expect(entries(after) == expected)
        // Five free files, none lost or counted twice: the next five documents are written over them.
        #expect(after.freeFiles == 5)
        let later = try (0..<5).map { _ in try after.store(bytes: Array("later".utf8)) }
        #expect(Set(later.map(\.name)) == [orphan.name, free[0].name, free[1].name, free[2].name, ".tmp-crashed"])
        #expect(entries(after)[kept.name] == 15)
        #expect(entries(after).count == expected.count)
    }

    @Test func aSecondLinkToADocumentsBytesIsUnlinkedNeverEmptied() throws {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-spool") + "/spool"
        let before = try Spool(directory: directory)
        let document = try before.store(bytes: Array("the document".utf8))
        // A rename half-persisted by a crash without a journal: the old names still link to the bytes.
        link(before.path(of: document.name), before.path(of: ".tmp-old-name"))
        link(before.path(of: document.name), before.path(of: ".free-old-7"))

        let after = try Spool(directory: directory)
        after.recover(keeping: [document.name])
        #expect(entries(after) == [document.name: 12])
        #expect(after.freeFiles == 0)
    }

    private func mountTmpfs(megabytes: Int) async throws -> String {
        let mountPoint = TemporaryDirectory.make(prefix: "pushdoc-tmpfs")
        #expect(try await runPython("import subprocess, sys; subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=\(megabytes)m', 'tmpfs', sys.argv[1]], check=True)", [mountPoint]) == 0)
        return mountPoint
    }

    private func unmount(_ mountPoint: String) async throws {
        #expect(try await runPython("import subprocess, sys; subprocess.run(['umount', '-l', sys.argv[1]], check=True)", [mountPoint]) == 0)
    }

    private func spaceFree(_ path: String) -> Int {
        var info = statvfs()
        statvfs(path, &info)
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Free files never hold more than a quarter of the space spare on the
    /// file system (free, plus what they hold): on a small disk most are emptied.
    @Test func freeFilesHoldAtMostAQuarterOfTheSpareSpace() async throws {
        let mountPoint = try await mountTmpfs(megabytes: 2)
        let spool = try Spool(directory: mountPoint + "/spool")
        let stored = try (0..<6).map { _ in try spool.store(bytes: Array(repeating: 5, count: 200_000)) }
        for entry in stored { spool.release(entry.name) }
        let held = entries(spool).values.reduce(0, +)
        #expect(spool.freeFiles == 6)
        #expect(held > 0 && held < 1_200_000)
        #expect(4 * held <= spaceFree(mountPoint) + held)
        try await unmount(mountPoint)
    }

    @Test func aFullDiskEmptiesTheFreeFilesAndTheDocumentIsWrittenInTheSpaceTheyHeld() async throws {
        let mountPoint = try await mountTmpfs(megabytes: 4)
        let spool = try Spool(directory: mountPoint + "/spool")
        let stored = try (0..<3).map { _ in try spool.store(bytes: Array(repeating: 5, count: 200_000)) }
        for entry in stored { spool.release(entry.name) }
        #expect(entries(spool).values.reduce(0, +) == 600_000)
        // 600 KB kept by free files; the rest of the disk filled.
        let filled = try await runPython(
            """
            import sys
            with open(sys.argv[1], 'wb', buffering=0) as filler:
                try:
                    while True:
                        filler.write(b'x' * 4096)
                except OSError:
                    pass
            """, [mountPoint + "/filler"])
        #expect(filled == 0)
        // Copied from a file: the second copy reads it again from its start.
        let document = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let source = TemporaryDirectory.make(prefix: "pushdoc-source") + "/invoice.pdf"
        try Data(document).write(to: URL(fileURLWithPath: source))
        let fd = open(source, O_RDONLY)
        defer { close(fd) }
        let entry = try spool.store(copying: fd, maxBytes: 1 << 20)
        #expect(entry.size == 300_000)
        #expect(entry.sha256 == SHA256.hex(document))
        #expect(try Data(contentsOf: URL(fileURLWithPath: spool.path(of: entry.name))) == Data(document))
        // The other free files gave their blocks back.
        #expect(entries(spool).filter { $0.key != entry.name }.values.allSatisfy { $0 == 0 })
        try await unmount(mountPoint)
    }
}
