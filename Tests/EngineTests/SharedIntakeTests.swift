import Dispatch
import Foundation
import Postgres
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// Engines sharing one PostgreSQL database take the same submission as one
/// document, whichever engine stores it first.
struct SharedIntakeTests {
    /// Another engine commits the same `documentId` after this one looked
    /// and before it wrote: this one looks again and answers that document.
    @Test func theSameDocumentStoredByAnotherEngineMeanwhileIsAnswered() async throws {
        let seeded = try await SeededStore.make(.postgres, [])
        let spool = try Spool(directory: TemporaryDirectory.make(prefix: "shared-intake"))
        let store = SQLIntakeStore(storage: seeded.storage, connector: .default, bytes: SpooledBytes(spool: spool))
        let document = NewDocument(
            id: "same", dossierID: "d1", path: "Achats/same.pdf", folder: "Achats", fileName: "same.pdf", size: 1, sha256: "x",
            spoolName: "spool-same", depositedAt: Date(timeIntervalSince1970: 0), submittedAt: Date(timeIntervalSince1970: 0))
        let (inserted, judged) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let otherEngine = Task {
            try await onThread {
                let other = try PostgresConnection(seeded.uri!)
                try other.execute("BEGIN")
                try SeededStore.insert(SeedDocument(id: "same", next: 1, state: .failed), on: other)
                inserted.signal()
                judged.wait()
                try other.execute("COMMIT")
            }
        }
        try await onThread { inserted.wait() }
        let verdict = try await store.admit(document) { facts in
            if let existing = facts.existing { return .answer(existing.result) }
            judged.signal()
            return .store(SubmissionResult(documentId: "same", state: .queued, ruleId: nil, reason: nil), history: .queued, rule: nil)
        }
        try await otherEngine.value
        #expect(verdict.result.state == .failed, "the other engine's document, as it stands")
        let count = try await seeded.storage.read { try $0.count("SELECT count(*) FROM documents WHERE id = 'same'") }
        #expect(count == 1)
    }
}
