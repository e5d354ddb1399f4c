import Foundation
import Synchronization
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// An `IntakeStore` under test, and what a test may look at beside it.
protocol IntakeStoreFixture: Sendable {
    var store: any IntakeStore { get }
    func state(of id: String) async throws -> DocumentState?
    /// Events of the log, oldest first.
    func events() async throws -> [Event]
    /// Stores `id` as transmitted, with `sha256`, for dossier d1.
    func addTransmitted(_ id: String, sha256: String) async throws
}

/// One implementation of the seam: every test below runs on each. A new
/// store holds dossiers d1 (selected, mapped to Inqom folder 11) and d2 (not
/// selected), one rule for `Achats`, and an active connector.
struct IntakeStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> any IntakeStoreFixture
}

/// What any `IntakeStore` must do, whatever keeps its documents.
struct IntakeStoreTests {
    static let implementations = StoreKind.allCases.map(SQLIntakeFixture.implementation)

    private func document(_ id: String, dossier: String = "d1", sha256: String = "aa") -> NewDocument {
        NewDocument(
            id: id, dossierID: dossier, path: "Achats/\(id).pdf", folder: "Achats", fileName: "\(id).pdf", size: 10,
            sha256: sha256, spoolName: "spool-\(id)", depositedAt: Date(timeIntervalSince1970: 100),
            submittedAt: Date(timeIntervalSince1970: 200))
    }

    /// A judge that keeps what it was shown and answers `verdict`.
    private final class Judge: Sendable {
        let seen = Mutex<[IntakeFacts]>([])
        func judging(_ verdict: @escaping @Sendable (IntakeFacts) throws -> IntakeVerdict) -> @Sendable (IntakeFacts) throws -> IntakeVerdict {
            { facts in
                self.seen.withLock { $0.append(facts) }
                return try verdict(facts)
            }
        }
    }

    private static func queued(_ id: String, rule: Rule?) -> IntakeVerdict {
        .store(SubmissionResult(documentId: id, state: .queued, ruleId: rule?.id, reason: nil), history: .queued, rule: rule)
    }

    @Test(arguments: implementations)
    func aDocumentIsJudgedOnTheFactsOfItsTransactionAndStoredWithItsEvent(_ implementation: IntakeStoreImplementation) async throws {
        let fixture = try await implementation.make()
        let judge = Judge()
        let verdict = try await fixture.store.admit(document("inv-1"), judge: judge.judging { Self.queued("inv-1", rule: $0.rules.first) })
        #expect(verdict.isQueued)
        let facts = try #require(judge.seen.withLock { $0.first })
        #expect(facts.existing == nil)
        #expect(facts.dossierSelected == true)
        #expect(facts.connectorState == .active)
        #expect(facts.rules.map(\.depositPath) == ["Achats"])
        #expect(!facts.alreadyTransmitted)
        #expect(facts.inqomFolderID == 11)
        #expect(try await fixture.state(of: "inv-1") == .queued)
        let event = try #require(try await fixture.events().last)
        #expect(event.type == EventType.documentQueued.rawValue)
        #expect(event.data["documentId"] == .text("inv-1"))
        #expect(event.data["path"] == .text("Achats/inv-1.pdf"))
    }

    @Test(arguments: implementations)
    func theFactsSayWhatTheStoreKnowsOfTheDossierAndTheBytes(_ implementation: IntakeStoreImplementation) async throws {
        let fixture = try await implementation.make()
        try await fixture.addTransmitted("sent-before", sha256: "bb")
        let judge = Judge()
        for (id, dossier, sha) in [("a", "d2", "aa"), ("b", "nowhere", "aa"), ("c", "d1", "bb")] {
            _ = try await fixture.store.admit(document(id, dossier: dossier, sha256: sha), judge: judge.judging { _ in
                .answer(SubmissionResult(documentId: id, state: .ignored, ruleId: nil, reason: nil))
            })
        }
        let seen = judge.seen.withLock { $0 }
        #expect(seen.map(\.dossierSelected) == [false, nil, true])
        #expect(seen.map(\.alreadyTransmitted) == [false, false, true])
        #expect(seen.map(\.inqomFolderID) == [nil, nil, 11])
        // An answer writes nothing.
        for id in ["a", "b", "c"] { #expect(try await fixture.state(of: id) == nil) }
    }

    @Test(arguments: implementations)
    func anIgnoredDocumentIsReplacedAndAJudgeThatThrowsWritesNothing(_ implementation: IntakeStoreImplementation) async throws {
        let fixture = try await implementation.make()
        let ignored = IntakeVerdict.store(
            SubmissionResult(documentId: "inv-2", state: .ignored, ruleId: nil, reason: .noMatchingRule), history: .ignored, rule: nil)
        _ = try await fixture.store.admit(document("inv-2"), judge: Judge().judging { _ in ignored })
        #expect(try await fixture.state(of: "inv-2") == .ignored)
        let eventsBefore = try await fixture.events().count
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await fixture.store.admit(document("inv-2"), judge: Judge().judging { _ in throw Refused() })
        }
        #expect(try await fixture.state(of: "inv-2") == .ignored)
        #expect(try await fixture.events().count == eventsBefore)
        let judge = Judge()
        _ = try await fixture.store.admit(document("inv-2"), judge: judge.judging { Self.queued("inv-2", rule: $0.rules.first) })
        #expect(judge.seen.withLock { $0.first?.existing?.result.state } == .ignored)
        #expect(try await fixture.state(of: "inv-2") == .queued)
        #expect(try await fixture.events().count == eventsBefore + 1)
    }
}

/// Intake into a fresh database of either kind: dossiers d1 (selected,
/// mapped) and d2, one rule for "Achats", the connector active.
struct SQLIntakeFixture: IntakeStoreFixture {
    let storage: any StoreAccess
    let store: any IntakeStore

    static func implementation(_ kind: StoreKind) -> IntakeStoreImplementation {
        IntakeStoreImplementation(description: kind.description) {
            let storage = try await kind.fresh("intake-store").storage
            try await storage.write { connection in
                for (id, selected) in [("d1", true), ("d2", false)] {
                    try SeedDossier.insert(SeedDossier(id: id, name: id, selected: selected), on: connection)
                }
                try connection.run(
                    """
                    INSERT INTO mapping (connector, dossier_id, siret, inqom_folder_id, inqom_folder_name)
                    VALUES ('default', 'd1', '73282932000074', 11, 'Boulangerie')
                    """, [])
                try connection.run(
                    """
                    INSERT INTO rules (connector, id, deposit_path, deposit_key, document_type, archive_path, period, created_at)
                    VALUES ('default', 'r1', 'Achats', 'achats', 'facture_achat', NULL, 'any', '2026-12-04T10:00:00Z')
                    """, [])
                try connection.setSetting(.wizardFinished, "2026-12-04T10:00:00Z", of: .default, at: Date())
                try connection.setSetting(.inqomCredentials, "sealed", of: .default, at: Date())
            }
            // The rows are under test here; where the bytes go, in DocumentBytesTests.
            let spool = try Spool(directory: TemporaryDirectory.make(prefix: "intake-spool"))
            return SQLIntakeFixture(
                storage: storage, store: SQLIntakeStore(storage: storage, connector: .default, bytes: SpooledBytes(spool: spool)))
        }
    }

    func state(of id: String) async throws -> DocumentState? {
        try await storage.read { connection in
            try connection.rows("SELECT state FROM documents WHERE id = ?", [.text(id)]) { try $0.word(0, as: DocumentState.self) }.first
        }
    }

    func events() async throws -> [Event] {
        try await storage.read { try $0.events(after: 0, of: nil, limit: 1000) }
    }

    func addTransmitted(_ id: String, sha256: String) async throws {
        try await storage.write { connection in
            try connection.run(
                """
                INSERT INTO documents (connector, id, dossier_id, path, file_name, size, sha256, state, deposited_at, submitted_at, transmitted_at)
                VALUES ('default', ?, 'd1', ?, ?, 1, ?, 'transmitted', 0, 0, 0)
                """, [.text(id), .text("Achats/\(id).pdf"), .text("\(id).pdf"), .text(sha256)])
        }
    }
}
