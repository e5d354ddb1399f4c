import Dispatch
import Foundation
import Postgres
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// A document in the store when a test begins.
struct SeedDocument: Sendable {
    let id: String
    /// Its planned attempt, in seconds since 1970; nil: not planned.
    let next: TimeInterval?
    var state: DocumentState = .queued
    var attempts = 0
    var dossierID = "d1"
    var reason: DocumentReason?
    /// When its attempt was planned, in seconds since 1970; nil: before this was kept.
    var planned: TimeInterval?
}

/// A `SendingStore` under test, and what a test may look at beside it.
protocol SendingStoreFixture: Sendable {
    var store: any SendingStore { get }
    func state(of id: String) async throws -> DocumentState
    /// Events of the log, oldest first.
    func events() async throws -> [Event]
    func setConnectorActive(_ active: Bool) async throws
}

/// One implementation of the seam: every test below runs on each.
struct SendingStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    /// Engines share its database: one engine's clock jump moves no plan.
    let isShared: Bool
    let make: @Sendable ([SeedDocument]) async throws -> any SendingStoreFixture
}

/// What any `SendingStore` must do, whatever keeps its documents.
struct SendingStoreTests {
    static let implementations = StoreKind.allCases.map(SeededStore.implementation)

    private static let at = Date(timeIntervalSince1970: 50)
    /// Lets every connector's documents in.
    private static let anyConnector: @Sendable (ConnectorName) -> Bool = { _ in true }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }

    @Test(arguments: implementations)
    func dueDocumentsAreClaimedOldestFirstAndOnce(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "a", next: 10), SeedDocument(id: "b", next: 5), SeedDocument(id: "later", next: 100),
            SeedDocument(id: "gone", next: nil, state: .failed),
        ])
        let claimed = try await fixture.store.claimDue(limit: 10, now: Self.at, admit: Self.anyConnector)
        #expect(claimed.map(\.id) == ["b", "a"])
        #expect(claimed.first?.inqomFolderID == 11)
        #expect(try await fixture.state(of: "a") == .sending)
        #expect(try await fixture.state(of: "later") == .queued)
        #expect(try await fixture.store.claimDue(limit: 10, now: Self.at, admit: Self.anyConnector).isEmpty)
        #expect(try await fixture.store.nextPlannedAttempt() == Date(timeIntervalSince1970: 100))
        #expect(try await fixture.store.claimDue(limit: 1, now: Date(timeIntervalSince1970: 100), admit: Self.anyConnector).map(\.id) == ["later"])
    }

    @Test(arguments: implementations)
    func aWorkerAtItsSlotClaimsOneDocumentAsAClaimWould(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 2), SeedDocument(id: "other", next: 3, dossierID: "d2"),
        ])
        let store = fixture.store
        #expect(try await blocking { try store.claimNextBlocking(now: Self.at, admit: Self.anyConnector) }?.id == "a")
        #expect(try await blocking { try store.claimNextBlocking(now: Self.at, admit: Self.anyConnector) }?.id == "other")
        #expect(try await fixture.state(of: "other") == .sending)
        #expect(try await blocking { try store.claimNextBlocking(now: Self.at, admit: { _ in false }) } == nil)
        #expect(try await fixture.state(of: "b") == .queued)
    }

    @Test(arguments: implementations)
    func aDossierThatBeginsWaitingGoesBeforeTheRestOfAnotherDossiersBacklog(
        _ implementation: SendingStoreImplementation
    ) async throws {
        // d1's backlog is being sent when d2's document becomes due: d2 takes
        // the next turn, though d1's remaining documents are older.
        let fixture = try await implementation.make(
            (1...4).map { SeedDocument(id: "backlog-\($0)", next: TimeInterval($0)) }
                + [SeedDocument(id: "newcomer", next: 20, dossierID: "d2")])
        let store = fixture.store
        let early = Date(timeIntervalSince1970: 10)
        #expect(try await store.claimDue(limit: 2, now: early, admit: Self.anyConnector).map(\.id) == ["backlog-1", "backlog-2"])
        let next = try await store.claimDue(limit: 3, now: Self.at, admit: Self.anyConnector)
        #expect(next.map(\.id) == ["newcomer", "backlog-3", "backlog-4"])
        #expect(next.map(\.dossierID) == ["d2", "d1", "d1"])
        #expect(next.first?.inqomFolderID == nil, "d2 is not mapped")
    }

    @Test(arguments: implementations)
    func aDossierRequeuedAfterItsLastDocumentWasClaimedTakesTurnsAgain(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "alone", next: 1, dossierID: "d2"), SeedDocument(id: "a", next: 2), SeedDocument(id: "b", next: 3),
        ])
        let store = fixture.store
        let first = try await store.claimDue(limit: 2, now: Self.at, admit: Self.anyConnector)
        #expect(first.map(\.id) == ["a", "alone"])
        let alone = try #require(first.last)
        let requeued = DocumentChange.requeued(at: Self.at, detail: "circuit open")
        _ = try await blocking { try store.recordBlocking(requeued, of: alone, at: Self.at, claimNext: nil) }
        #expect(try await store.claimDue(limit: 2, now: Self.at, admit: Self.anyConnector).map(\.id) == ["alone", "b"])
    }

    @Test(arguments: implementations)
    func documentsInterruptedWhileSendingAreDueAgainAtTheNextStart(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "cut", next: 1, state: .sending, attempts: 2), SeedDocument(id: "waiting", next: 500),
        ])
        #expect(try await fixture.store.requeueInterrupted(at: Self.at) == 1)
        let due = try await fixture.store.claimDue(limit: 10, now: Self.at, admit: Self.anyConnector)
        #expect(due.map(\.id) == ["cut"])
        #expect(due.map(\.attempts) == [2])
    }

    @Test(arguments: implementations)
    func nothingIsClaimedOrPlannedWhileTheConnectorIsNotActive(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([SeedDocument(id: "a", next: 10)])
        try await fixture.setConnectorActive(false)
        #expect(try await fixture.store.claimDue(limit: 10, now: Self.at, admit: Self.anyConnector).isEmpty)
        #expect(try await fixture.store.nextPlannedAttempt() == nil)
        #expect(try await fixture.state(of: "a") == .queued)
        try await fixture.setConnectorActive(true)
        #expect(try await fixture.store.claimDue(limit: 10, now: Self.at, admit: Self.anyConnector).map(\.id) == ["a"])
    }

    @Test(arguments: implementations)
    func aTransmissionIsRecordedWithItsEventAndTheNextDocumentClaimedWithIt(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 2)])
        let store = fixture.store
        let first = try #require(try await store.claimDue(limit: 1, now: Self.at, admit: Self.anyConnector).first)
        let change = DocumentChange.transmitted(inqomDocumentID: 77, duplicate: false, archivePath: "Achats/Envoyés/a.pdf")
        let next = try await blocking { try store.recordBlocking(change, of: first, at: Self.at, claimNext: Self.anyConnector) }
        #expect(next?.id == "b")
        #expect(try await fixture.state(of: "a") == .transmitted)
        #expect(try await fixture.state(of: "b") == .sending)
        let event = try #require(try await fixture.events().last)
        #expect(event.type == EventType.documentTransmitted.rawValue)
        #expect(event.data["documentId"] == .text("a"))
        #expect(event.data["inqomDocumentId"] == .number(77))
        #expect(event.data["archivePath"] == .text("Achats/Envoyés/a.pdf"))
    }

    @Test(arguments: implementations)
    func aRetryIsPlannedAndMovesWithTheWallClock(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([SeedDocument(id: "a", next: 1)])
        let store = fixture.store
        let claimed = try #require(try await store.claimDue(limit: 1, now: Self.at, admit: Self.anyConnector).first)
        let change = DocumentChange.retrying(attempts: 1, next: Date(timeIntervalSince1970: 200), message: "503", httpStatus: 503)
        #expect(try await blocking { try store.recordBlocking(change, of: claimed, at: Self.at, claimNext: Self.anyConnector) } == nil)
        #expect(try await fixture.state(of: "a") == .retrying)
        #expect(try await fixture.events().last?.type == EventType.documentRetryScheduled.rawValue)
        #expect(try await store.nextPlannedAttempt() == Date(timeIntervalSince1970: 200))
        let moved = try await store.movePlannedAttempts(by: -100, plannedBefore: Date(timeIntervalSince1970: 60))
        #expect(moved == !implementation.isShared)
        let due = Date(timeIntervalSince1970: moved ? 100 : 200)
        #expect(try await store.nextPlannedAttempt() == due)
        let again = try await store.claimDue(limit: 1, now: due, admit: Self.anyConnector)
        #expect(again.map(\.attempts) == [1])
    }

    @Test(arguments: implementations)
    func aClockJumpMovesOnlyTheAttemptsPlannedBeforeItAndNoneOnASharedDatabase(_ implementation: SendingStoreImplementation) async throws {
        // The wall clock jumped an hour forward at 1,000: "later" was planned
        // before (for 1,060, now due at 4,660); "since" was submitted just after,
        // in the new time, and is due at once.
        let fixture = try await implementation.make([
            SeedDocument(id: "later", next: 1_060, state: .retrying, attempts: 1, planned: 1_000),
            SeedDocument(id: "since", next: 4_601, planned: 4_601),
            SeedDocument(id: "unknown", next: 1_500, state: .retrying, attempts: 1),
        ])
        let moved = try await fixture.store.movePlannedAttempts(by: 3_600, plannedBefore: Date(timeIntervalSince1970: 1_001))
        let now = Date(timeIntervalSince1970: 4_602)
        let dueNow = try await fixture.store.claimDue(limit: 10, now: now, admit: Self.anyConnector).map(\.id)
        if implementation.isShared {
            // The other engines' clocks did not jump: every plan stays as it was.
            #expect(!moved)
            #expect(dueNow == ["later", "unknown", "since"])
        } else {
            #expect(moved)
            #expect(dueNow == ["since"])
            #expect(try await fixture.store.nextPlannedAttempt() == Date(timeIntervalSince1970: 4_660))
            #expect(try await fixture.store.claimDue(limit: 10, now: Date(timeIntervalSince1970: 5_100), admit: Self.anyConnector).map(\.id) == ["later", "unknown"])
        }
    }

    @Test(arguments: implementations)
    func aFailureIsFinalAndARequeueSpendsNoAttempt(_ implementation: SendingStoreImplementation) async throws {
        let fixture = try await implementation.make([SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 2)])
        let store = fixture.store
        let claimed = try await store.claimDue(limit: 2, now: Self.at, admit: Self.anyConnector)
        try #require(claimed.count == 2)
        let failed = DocumentChange.failed(reason: .inqomRejected, message: "415", httpStatus: 415, attemptsSpent: 1)
        let requeued = DocumentChange.requeued(at: Date(timeIntervalSince1970: 300), detail: "circuit open")
        _ = try await blocking { try store.recordBlocking(failed, of: claimed[0], at: Self.at, claimNext: nil) }
        let eventsBefore = try await fixture.events().count
        _ = try await blocking { try store.recordBlocking(requeued, of: claimed[1], at: Self.at, claimNext: nil) }
        #expect(try await fixture.state(of: "a") == .failed)
        #expect(try await fixture.state(of: "b") == .queued)
        let events = try await fixture.events()
        #expect(events.count == eventsBefore, "a requeue is not an event MCF follows")
        let failure = try #require(events.last)
        #expect(failure.type == EventType.documentFailed.rawValue)
        #expect(failure.data["reason"] == .text("inqom_rejected"))
        #expect(failure.data["attempts"] == .number(1))
        #expect(try await store.nextPlannedAttempt() == Date(timeIntervalSince1970: 300))
        #expect(try await store.claimDue(limit: 5, now: Date(timeIntervalSince1970: 300), admit: Self.anyConnector).map(\.attempts) == [0])
    }
}

/// A store's database of either kind, seeded with documents of the
/// connector `default` (its dossier d1 mapped to folder 11), with the
/// sending store of that kind.
struct SeededStore: SendingStoreFixture {
    let kind: StoreKind
    let storage: any StoreAccess
    /// The PostgreSQL database's URI; nil on SQLite.
    let uri: String?
    let store: any SendingStore

    static func implementation(_ kind: StoreKind) -> SendingStoreImplementation {
        SendingStoreImplementation(description: kind.description, isShared: kind == .postgres) { try await make(kind, $0) }
    }

    static func make(_ kind: StoreKind, _ seeds: [SeedDocument]) async throws -> SeededStore {
        let (storage, uri) = try await kind.fresh("sending-store")
        // Leases outlast every move of these tests' clock: they are tested apart (SharedSendingTests).
        let store: any SendingStore =
            if let postgres = storage as? PostgresAccess {
                PostgresSendingStore(storage: postgres, node: "engine-a", leaseSeconds: 86_400, connectorWorkers: 64)
            } else {
                SQLiteSendingStore(storage: storage as! StorageAccess)
            }
        let fixture = SeededStore(kind: kind, storage: storage, uri: uri, store: store)
        try await fixture.add(seeds)
        try await fixture.setConnectorActive(true)
        return fixture
    }

    /// Another engine's view of the same PostgreSQL database.
    func engine(
        _ node: String, leaseSeconds: TimeInterval, connectorWorkers: Int = 64, presenceGrace: TimeInterval = 10
    ) -> PostgresSendingStore {
        PostgresSendingStore(
            storage: storage as! PostgresAccess, node: node, leaseSeconds: leaseSeconds, connectorWorkers: connectorWorkers,
            presenceGrace: presenceGrace)
    }

    /// `node` shown alive on the database, as its engine's listener shows
    /// it; `stop` it before the test ends.
    func presence(of node: String) async throws -> PostgresListener {
        let uri = try #require(uri)
        return try await onThread { try PostgresListener(uri: uri, node: node) {} }
    }

    /// `node`'s engine dies: its listener stops and its session is ended,
    /// waited for until the server has let its presence go.
    func end(_ presence: PostgresListener, of node: String) async throws {
        presence.stop()
        try await SharedPostgres.endPresence(of: node, uri: try #require(uri))
    }

    func add(_ seeds: [SeedDocument]) async throws {
        try await storage.write { connection in
            try connection.run(
                """
                INSERT INTO mapping (connector, dossier_id, siret, inqom_folder_id, inqom_folder_name)
                VALUES ('default', 'd1', '73282932000074', 11, 'Boulangerie') ON CONFLICT DO NOTHING
                """, [])
            for seed in seeds { try Self.insert(seed, on: connection) }
        }
    }

    static func insert(_ seed: SeedDocument, on connection: any SQLConnection) throws {
        try connection.run(
            """
            INSERT INTO documents (connector, id, dossier_id, path, file_name, size, sha256, document_type, state, reason, attempts,
                next_attempt_at, planned_at, deposited_at, submitted_at)
            VALUES ('default', ?, ?, ?, ?, 1, 'x', 'facture_achat', ?, ?, ?, ?, ?, 0, 0)
            """,
            [.text(seed.id), .text(seed.dossierID), .text("Achats/\(seed.id).pdf"), .text("\(seed.id).pdf"), .text(seed.state.rawValue),
             seed.reason.map { .text($0.rawValue) } ?? .null, .integer(Int64(seed.attempts)), seed.next.map { .real($0) } ?? .null,
             seed.planned.map { .real($0) } ?? .null])
    }

    func state(of id: String) async throws -> DocumentState {
        try await storage.read { connection in
            try connection.rows("SELECT state FROM documents WHERE id = ?", [.text(id)]) { try $0.word(0, as: DocumentState.self) }[0]
        }
    }

    func events() async throws -> [Event] {
        try await storage.read { try $0.events(after: 0, of: nil, limit: 1000) }
    }

    /// The details of the document's history, oldest first.
    func history(of id: String) async throws -> [String?] {
        try await storage.read { connection in
            try connection.rows(
                """
                SELECT h.detail FROM document_history h JOIN documents d ON d.seq = h.document_seq
                WHERE d.id = ? ORDER BY h.at, h.rowid
                """, [.text(id)]
            ) { try $0.optionalText(0) }
        }
    }

    func setConnectorActive(_ active: Bool) async throws {
        try await storage.write { connection in
            try connection.setSetting(.wizardFinished, active ? "2026-12-04T10:00:00Z" : nil, of: .default, at: Date())
            try connection.setSetting(.inqomCredentials, active ? "sealed" : nil, of: .default, at: Date())
            try SQLConnectorStore.refreshState(of: .default, connection)
        }
    }
}
