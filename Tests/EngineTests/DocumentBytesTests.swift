import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// With PostgreSQL, a queued document's bytes are in the database, so that
/// any engine can send it: kept in 1 MiB parts with its row, written back
/// whole for each upload (whichever engine accepted it), gone once Inqom
/// has them.
struct DocumentBytesTests {
    @Test func everyEngineUploadsTheBytesFromTheDatabase() async throws {
        let seeded = try await SeededStore.make(.postgres, [SeedDocument(id: "big", next: 1)])
        let accepting = try Spool(directory: TemporaryDirectory.make(prefix: "accepting-spool"))
        var generator = SplitMix64(seed: 7)
        let content = (0..<(2 * DatabaseBytes.partSize + 12_345)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let entry = try accepting.store(bytes: content)
        let document = NewDocument(
            id: "big", dossierID: "d1", path: "Achats/big.pdf", folder: "Achats", fileName: "big.pdf", size: entry.size,
            sha256: entry.sha256, spoolName: entry.name, depositedAt: Date(), submittedAt: Date())
        let kept = DatabaseBytes(spool: accepting, copies: TemporaryDirectory.make(prefix: "copies-a"), storage: seeded.storage)
        let seq = try await seeded.storage.read { try $0.rows("SELECT seq FROM documents WHERE id = 'big'") { try $0.int(0) }[0] }
        try await seeded.storage.write { try kept.keep(document, seq: seq, on: $0, along: []) }
        #expect(try await parts(seeded) == 3)

        let claimed = try #require(try await seeded.store.claimDue(limit: 1, now: Date(timeIntervalSince1970: 50)) { _ in true }.first)
        // The accepting engine's spool file is gone (released once the row was stored): the bytes come from the database.
        accepting.release(entry.name)
        let otherSpool = try Spool(directory: TemporaryDirectory.make(prefix: "other-spool"))
        let other = DatabaseBytes(spool: otherSpool, copies: TemporaryDirectory.make(prefix: "copies-b"), storage: seeded.storage)
        for engine in [kept, other] {
            let copy = try #require(try await onThread { try engine.file(for: claimed) })
            #expect(copy.isCopy)
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy.path)) == Data(content))
        }

        let change = DocumentChange.transmitted(inqomDocumentID: 1, duplicate: false, archivePath: nil)
        _ = try await onThread { try seeded.store.recordBlocking(change, of: claimed, at: Date(), claimNext: nil) }
        #expect(try await parts(seeded) == 0, "Inqom has them: the database keeps them no longer")
    }

    private func parts(_ seeded: SeededStore) async throws -> Int {
        try await seeded.storage.read { try $0.count("SELECT count(*) FROM document_parts") }
    }
}
