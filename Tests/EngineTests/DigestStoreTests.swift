import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// A document that failed (or not) at a given time when a test begins.
struct SeedFailure: Sendable {
    let id: String
    let dossierID: String
    let path: String
    /// Seconds since 1970.
    let failedAt: TimeInterval
    var state: DocumentState = .failed
}

/// A `DigestStore` under test, and what a test may look at beside it.
protocol DigestStoreFixture: Sendable {
    var store: any DigestStore { get }
    /// Events of the log, oldest first.
    func events() async throws -> [Event]
}

/// One implementation of the seam: every test below runs on each.
struct DigestStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable (_ dossiers: [SeedDossier], _ failures: [SeedFailure]) async throws -> any DigestStoreFixture
}

/// What any `DigestStore` must do, whatever keeps collaborators and digests.
struct DigestStoreTests {
    static let implementations = StoreKind.allCases.map(SQLDigestFixture.implementation)

    @Test(arguments: implementations)
    func collaboratorsAreReplacedByIdAndKeepTheirDossiers(_ implementation: DigestStoreImplementation) async throws {
        let store = try await implementation.make([], []).store
        let everyDossier = Collaborator(id: "c2", name: "Élise", email: "elise@example.fr", dailyDigest: true, dossierIds: nil)
        let some = Collaborator(id: "c1", name: "Marc", email: "marc@example.fr", dailyDigest: false, dossierIds: ["d1", "d2"])
        try await store.upsert([everyDossier, some])
        #expect(try await store.collaborators(id: nil) == [some, everyDossier])
        let renamed = Collaborator(id: "c1", name: "Marc D.", email: "marc@example.fr", dailyDigest: true, dossierIds: [])
        try await store.upsert([renamed])
        #expect(try await store.collaborators(id: "c1") == [renamed])
        #expect(try await store.collaborators(id: "nobody").isEmpty)
        #expect(try await store.remove(collaboratorIDs: ["c2", "nobody"]) == 1)
        #expect(try await store.collaborators(id: nil) == [renamed])
    }

    @Test(arguments: implementations)
    func aDigestListsWhatFailedInItsWindowAndIsStillFailed(_ implementation: DigestStoreImplementation) async throws {
        let fixture = try await implementation.make(
            [SeedDossier(id: "d1", name: "Zinc"), SeedDossier(id: "d2", name: "Atelier"), SeedDossier(id: "d3", name: "Hors", selected: false)],
            [SeedFailure(id: "late", dossierID: "d1", path: "Achats/b.pdf", failedAt: 150),
             SeedFailure(id: "early", dossierID: "d1", path: "Achats/a.pdf", failedAt: 100),
             SeedFailure(id: "first", dossierID: "d2", path: "Ventes/z.pdf", failedAt: 120),
             SeedFailure(id: "before", dossierID: "d1", path: "Achats/old.pdf", failedAt: 99),
             SeedFailure(id: "after", dossierID: "d1", path: "Achats/new.pdf", failedAt: 200),
             SeedFailure(id: "retried", dossierID: "d1", path: "Achats/r.pdf", failedAt: 130, state: .queued),
             SeedFailure(id: "unselected", dossierID: "d3", path: "Achats/u.pdf", failedAt: 130)])
        let window = DateInterval(start: Date(timeIntervalSince1970: 100), end: Date(timeIntervalSince1970: 200))
        let selected = try await fixture.store.failures(of: nil, failedIn: window)
        #expect(selected.map(\.documentID) == ["first", "early", "late"])
        #expect(selected.first?.dossierName == "Atelier")
        #expect(selected.first?.failedAt == Date(timeIntervalSince1970: 120))
        #expect(selected.first?.reason == .inqomRejected)
        #expect(selected.first?.httpStatus == 422)
        #expect(try await fixture.store.failures(of: ["d3"], failedIn: window).map(\.documentID) == ["unselected"])
        #expect(try await fixture.store.failures(of: [], failedIn: window).isEmpty)
    }

    @Test(arguments: implementations)
    func aSentDigestIsRecordedWithItsEventAndTheScheduleKeepsItsDay(_ implementation: DigestStoreImplementation) async throws {
        let fixture = try await implementation.make([], [])
        let store = fixture.store
        #expect(try await store.wasSent(to: "c1", day: "2026-12-04") == false)
        try await store.recordSent(to: "c1", day: "2026-12-04", failures: 3, at: Date(timeIntervalSince1970: 50))
        try await store.recordSent(to: "c1", day: "2026-12-04", failures: 4, at: Date(timeIntervalSince1970: 60))
        #expect(try await store.wasSent(to: "c1", day: "2026-12-04"))
        #expect(try await store.wasSent(to: "c1", day: "2026-12-05") == false)
        let sent = try await fixture.events().filter { $0.type == EventType.digestSent.rawValue }.map(\.data)
        #expect(sent.map { $0["failures"] } == [.number(3), .number(4)])
        #expect(sent.first?["collaboratorId"] == .text("c1"))
        #expect(sent.first?["date"] == .text("2026-12-04"))
        #expect(try await store.lastScheduledRun() == nil)
        try await store.recordScheduledRun(day: "2026-12-04", at: "2026-12-04T06:00:00.000Z")
        let last = try #require(try await store.lastScheduledRun())
        #expect(last.day == "2026-12-04")
        #expect(last.at == "2026-12-04T06:00:00.000Z")
    }

    /// Engines sharing a database run the day's digests once: of claims
    /// made together, one takes the day.
    @Test(arguments: implementations)
    func aDaysScheduledRunIsTakenOnce(_ implementation: DigestStoreImplementation) async throws {
        let store = try await implementation.make([], []).store
        let claims = try await withThrowingTaskGroup(of: ScheduledRunClaim.self) { group in
            for _ in 0..<8 { group.addTask { try await store.claimScheduledRun(day: "2026-12-04", at: "2026-12-04T06:00:00.000Z") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(claims.filter { $0 == .taken(previousDay: nil, previousAt: nil) }.count == 1)
        #expect(claims.filter { $0 == .alreadyTaken }.count == 7)
        let next = try await store.claimScheduledRun(day: "2026-12-05", at: "2026-12-05T06:00:00.000Z")
        #expect(next == .taken(previousDay: "2026-12-04", previousAt: "2026-12-04T06:00:00.000Z"))
        // A run that failed gives its day back: the next try takes it again.
        try await store.recordScheduledRun(day: "2026-12-04", at: "2026-12-04T06:00:00.000Z")
        #expect(try await store.claimScheduledRun(day: "2026-12-05", at: "2026-12-05T06:01:00.000Z") != .alreadyTaken)
    }
}

/// Collaborators and failures in a fresh database of either kind.
struct SQLDigestFixture: DigestStoreFixture {
    let storage: any StoreAccess
    let store: any DigestStore

    static func implementation(_ kind: StoreKind) -> DigestStoreImplementation {
        DigestStoreImplementation(description: kind.description) { dossiers, failures in
            let storage = try await kind.fresh("digest-store").storage
            try await storage.write { connection in
                for dossier in dossiers { try SeedDossier.insert(dossier, on: connection) }
                for failure in failures {
                    try connection.run(
                        """
                        INSERT INTO documents (connector, id, dossier_id, path, file_name, size, sha256, state, reason, attempts, last_error,
                            deposited_at, submitted_at, failed_at)
                        VALUES ('default', ?, ?, ?, 'f.pdf', 1, 'x', ?, 'inqom_rejected', 1, ?, 0, 0, ?)
                        """,
                        [.text(failure.id), .text(failure.dossierID), .text(failure.path), .word(failure.state),
                         .text(DocumentChange.lastError(reason: .inqomRejected, message: "illisible", httpStatus: 422)),
                         .real(failure.failedAt)])
                }
            }
            return SQLDigestFixture(storage: storage, store: SQLDigestStore(storage: storage, connector: .default))
        }
    }

    func events() async throws -> [Event] { try await storage.read { try $0.events(after: 0, of: nil, limit: 1000) } }
}
