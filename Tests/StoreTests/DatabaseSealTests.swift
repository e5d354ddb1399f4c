import Foundation
import Glibc
import TestSupport
import Testing

@testable import Store

/// A clean stop seals the database; a start that finds it unchanged skips
/// `PRAGMA quick_check`, and any change brings the check back.
struct DatabaseSealTests {
    private let migrations = [Migration(1, "people", sql: "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")]

    private func filledDatabase() async throws -> String {
        let path = TemporaryDirectory.make(prefix: "pushdoc-seal") + "/test.sqlite"
        let database = try Database(path: path, migrations: migrations)
        try await database.write { connection in
            for index in 0..<2000 { try connection.run("INSERT INTO people (name) VALUES (?)", [.text("person \(index) " + String(repeating: "x", count: 100))]) }
        }
        #expect(try await database.seal() == .quickCheck)
        return path
    }

    @Test func anUnchangedFileIsNotCheckedAgainNorAtItsNextSeal() async throws {
        let path = try await filledDatabase()
        let reopened = try Database(path: path, migrations: migrations)
        #expect(reopened.integrityCheck == .unchangedSinceSealed)
        #expect(try await reopened.read { try $0.rows("SELECT count(*) FROM people") { $0.int(0) } } == [2000])
        #expect(try await reopened.seal() == .unchangedSinceSealed)
        #expect(try Database(path: path, migrations: migrations).integrityCheck == .unchangedSinceSealed)
    }

    @Test func aWriteAfterTheSealIsCheckedAtTheNextSealAndStart() async throws {
        let path = try await filledDatabase()
        let database = try Database(path: path, migrations: migrations)
        try await database.write { try $0.run("INSERT INTO people (name) VALUES ('late')") }
        // The engine killed now: its files as they are, WAL frames pending.
        let copy = TemporaryDirectory.make(prefix: "pushdoc-seal-copy") + "/test.sqlite"
        for suffix in ["", "-wal", "-verified"] {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy + suffix)
        }
        #expect(try Database(path: copy, migrations: migrations).integrityCheck == .quickCheck)
        // A clean stop instead: the changed file is checked before it is sealed.
        #expect(try await database.seal() == .quickCheck)
    }

    @Test func aFileDamagedSinceItsSealIsCheckedAndRefused() async throws {
        let path = try await filledDatabase()
        #expect(try Database(path: path, migrations: migrations).integrityCheck == .unchangedSinceSealed)
        // Bit rot while the engine is stopped.
        try scribbleOverTheMiddle(of: path)
        expectRefusedAsCorrupted(path, migrations: migrations)
    }
}

struct FileFingerprintTests {
    private func write(_ bytes: [UInt8]) -> String {
        let path = TemporaryDirectory.make(prefix: "pushdoc-fingerprint") + "/file"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func anyChangedByteChangesIt() throws {
        // Past one read buffer (1 MiB), with a tail shorter than a stripe.
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(1 << 20) + 4_133).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let original = try #require(FileFingerprint(path: write(bytes)))
        #expect(FileFingerprint(path: write(bytes)) == original)
        for offset in [0, 7, 31, 32, 4_096, (1 << 20) - 1, 1 << 20, bytes.count - 5, bytes.count - 1] {
            var changed = bytes
            changed[offset] ^= 0x01
            #expect(FileFingerprint(path: write(changed)) != original, "byte \(offset)")
        }
        // A zero byte more: same stripes once padded, another size.
        #expect(FileFingerprint(path: write(bytes + [0])) != original)
    }

    @Test func itsTextReadsBack() throws {
        let fingerprint = try #require(FileFingerprint(path: write(Array("sealed".utf8))))
        #expect(FileFingerprint(fingerprint.description) == fingerprint)
        #expect(FileFingerprint("6:" + String(repeating: "g", count: 64)) == nil)
        #expect(FileFingerprint(path: "/nonexistent/file") == nil)
    }
}
