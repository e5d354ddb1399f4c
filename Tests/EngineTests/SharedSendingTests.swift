import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import Engine

/// What engines sharing one PostgreSQL database promise each other when
/// they send: each document claimed by one engine at a time, a dead
/// engine's documents sent by the others once its leases run out, and no
/// document left waiting where no claim looks.
struct SharedSendingTests {
    private static let anyConnector: @Sendable (ConnectorName) -> Bool = { _ in true }
    private static let start = Date(timeIntervalSince1970: 100)

    @Test func enginesClaimingTogetherClaimEachDocumentOnce() async throws {
        let ids = (0..<300).map { "doc-\($0)" }
        let fixture = try await SeededStore.make(.postgres, ids.enumerated().map { SeedDocument(id: $1, next: 1, dossierID: "d\($0 % 7)") })
        let engines = [fixture.engine("engine-a", leaseSeconds: 60), fixture.engine("engine-b", leaseSeconds: 60)]
        let claimed = Claimed()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for engine in engines {
                for _ in 0..<3 {
                    group.addTask { try await onThread { try Self.sendAll(engine, noting: claimed) } }
                }
            }
            try await group.waitForAll()
        }
        #expect(claimed.ids.withLock { $0.sorted() } == ids.sorted())
        #expect(try await fixture.store.claimDue(limit: 10, now: Self.start, admit: Self.anyConnector).isEmpty)
    }

    @Test func aDeadEnginesDocumentsAreSentByAnotherOnceItsLeaseRunsOut() async throws {
        let fixture = try await SeededStore.make(.postgres, [
            SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 1, state: .retrying, attempts: 2),
        ])
        let dead = fixture.engine("engine-a", leaseSeconds: 30)
        let survivor = fixture.engine("engine-b", leaseSeconds: 30)
        #expect(try await dead.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector).map(\.id) == ["a", "b"])
        let before = Self.start.addingTimeInterval(29)
        #expect(try await survivor.claimDue(limit: 2, now: before, admit: Self.anyConnector).isEmpty)
        #expect(try await survivor.requeueInterrupted(at: before) == 0, "another engine's live lease is not an interrupted upload")
        #expect(try await survivor.nextPlannedAttempt() == Self.start.addingTimeInterval(30))
        let taken = try await survivor.claimDue(limit: 2, now: Self.start.addingTimeInterval(30), admit: Self.anyConnector)
        #expect(taken.map(\.id) == ["a", "b"])
        #expect(taken.map(\.attempts) == [0, 2], "a lease that ran out spends no attempt")
        #expect(try await fixture.history(of: "a").last == "the lease of engine engine-a ran out")
        #expect(try await fixture.state(of: "b") == .sending)
    }

    /// An engine whose lease ran out while it still uploaded: once another
    /// took the document back, the first's failure no longer counts, its
    /// receipt from Inqom does, and nothing is recorded twice.
    @Test func anOutcomeCountsOnlyWhileItsDocumentIsStillBeingSent() async throws {
        let fixture = try await SeededStore.make(.postgres, [SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 1)])
        let slow = fixture.engine("engine-a", leaseSeconds: 30)
        let other = fixture.engine("engine-b", leaseSeconds: 30)
        let late = try await slow.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector)
        #expect(late.map(\.id) == ["a", "b"])
        let after = Self.start.addingTimeInterval(30)
        let taken = try await other.claimDue(limit: 2, now: after, admit: Self.anyConnector)
        #expect(taken.map(\.id) == ["a", "b"])
        let failed = DocumentChange.failed(reason: .fileMissing, message: "gone", httpStatus: nil, attemptsSpent: 1)
        let receipt = DocumentChange.transmitted(inqomDocumentID: 7, duplicate: false, archivePath: nil)
        let record = { (engine: PostgresSendingStore, change: DocumentChange, document: Outgoing) in
            _ = try await onThread { try engine.recordBlocking(change, of: document, at: after, claimNext: nil) }
        }
        // "a": the slow engine's failure comes late; the other engine's receipt decides.
        try await record(slow, failed, late[0])
        #expect(try await fixture.state(of: "a") == .sending)
        try await record(other, receipt, taken[0])
        #expect(try await fixture.state(of: "a") == .transmitted)
        // "b": the slow engine's receipt counts; the other's later failure (its bytes are gone) does not.
        try await record(slow, receipt, late[1])
        try await record(other, failed, taken[1])
        #expect(try await fixture.state(of: "b") == .transmitted)
        let transmitted = try await fixture.events().filter { $0.type == EventType.documentTransmitted.rawValue }
        #expect(transmitted.count == 2, "one receipt told of per document")
        #expect(try await fixture.events().filter { $0.type == EventType.documentFailed.rawValue }.isEmpty)
    }

    @Test func connectorWorkersHoldAcrossEngines() async throws {
        let fixture = try await SeededStore.make(.postgres, (0..<6).map { SeedDocument(id: "doc-\($0)", next: 1) })
        let presences = [try await fixture.presence(of: "engine-a"), try await fixture.presence(of: "engine-b")]
        defer { presences.forEach { $0.stop() } }
        let first = fixture.engine("engine-a", leaseSeconds: 60, connectorWorkers: 2)
        let second = fixture.engine("engine-b", leaseSeconds: 60, connectorWorkers: 2)
        let held = try await first.claimDue(limit: 1, now: Self.start, admit: Self.anyConnector)
        #expect(held.count == 1)
        #expect(try await second.claimDue(limit: 4, now: Self.start, admit: Self.anyConnector).count == 1, "one place left of two")
        #expect(try await first.claimDue(limit: 4, now: Self.start, admit: Self.anyConnector).isEmpty)
        let change = DocumentChange.transmitted(inqomDocumentID: 1, duplicate: false, archivePath: nil)
        let next = try await onThread { try first.recordBlocking(change, of: held[0], at: Self.start, claimNext: Self.anyConnector) }
        #expect(next != nil, "the place an upload ended is the next one's")
        #expect(try await second.claimDue(limit: 4, now: Self.start, admit: Self.anyConnector).isEmpty)
    }

    /// A dead engine's uploads take no place under `connectorWorkers`: the
    /// others go on at full strength while its leases run out. Until the
    /// engines had time to connect again after the database started, every
    /// lease takes its place.
    @Test func aDeadEnginesUploadsTakeNoPlace() async throws {
        let fixture = try await SeededStore.make(.postgres, (0..<6).map { SeedDocument(id: "doc-\($0)", next: 1) })
        let dying = try await fixture.presence(of: "engine-a")
        let living = try await fixture.presence(of: "engine-b")
        defer { living.stop() }
        let dead = fixture.engine("engine-a", leaseSeconds: 60, connectorWorkers: 2, presenceGrace: 0)
        let survivor = fixture.engine("engine-b", leaseSeconds: 60, connectorWorkers: 2, presenceGrace: 0)
        let held = try await dead.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector)
        #expect(held.count == 2)
        #expect(try await survivor.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector).isEmpty, "a live engine's uploads take their places")

        try await fixture.end(dying, of: "engine-a")
        let justAfterTheDatabaseStarted = fixture.engine("engine-b", leaseSeconds: 60, connectorWorkers: 2, presenceGrace: 86_400)
        #expect(try await justAfterTheDatabaseStarted.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector).isEmpty)
        let sent = try await survivor.claimDue(limit: 2, now: Self.start, admit: Self.anyConnector)
        #expect(sent.count == 2, "the dead engine's places are the survivor's")
        #expect(Set(sent.map(\.id)).isDisjoint(with: held.map(\.id)), "its documents wait for their leases to run out")
    }

    @Test func aLiveLeaseIsLeftToItsEngine() async throws {
        let fixture = try await SeededStore.make(.postgres, [SeedDocument(id: "a", next: 1)])
        let first = fixture.engine("engine-a", leaseSeconds: 30)
        let claimed = try #require(try await first.claimDue(limit: 1, now: Self.start, admit: Self.anyConnector).first)
        #expect(try await fixture.engine("engine-b", leaseSeconds: 30).nextPlannedAttempt() == Self.start.addingTimeInterval(30))
        #expect(try await first.nextPlannedAttempt() == nil, "an engine does not wait for its own leases")
        let change = DocumentChange.transmitted(inqomDocumentID: 5, duplicate: false, archivePath: nil)
        _ = try await onThread { try first.recordBlocking(change, of: claimed, at: Self.start.addingTimeInterval(1), claimNext: nil) }
        #expect(try await fixture.engine("engine-b", leaseSeconds: 30).nextPlannedAttempt() == nil)
        #expect(try await fixture.state(of: "a") == .transmitted)
    }

    /// An engine taking a dossier's last waiting document while another adds
    /// one to it: the new one is never left without the dossier's turn, where
    /// no claim would find it.
    @Test func documentsAddedWhileOthersAreClaimedAreAllClaimed() async throws {
        let fixture = try await SeededStore.make(.postgres, [])
        let engines = [fixture.engine("engine-a", leaseSeconds: 60), fixture.engine("engine-b", leaseSeconds: 60)]
        let claimed = Claimed()
        let added = (0..<200).map { "doc-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for (index, id) in added.enumerated() { try await fixture.add([SeedDocument(id: id, next: 1, dossierID: "d\(index % 2)")]) }
            }
            for engine in engines {
                group.addTask { try await onThread { for _ in 0..<50 { try Self.sendAll(engine, noting: claimed) } } }
            }
            try await group.waitForAll()
        }
        try await onThread { try Self.sendAll(engines[0], noting: claimed) }
        #expect(claimed.ids.withLock { $0.sorted() } == added.sorted())
    }

    /// The ids workers claimed, each time they claimed one.
    private final class Claimed: Sendable {
        let ids = Mutex<[String]>([])
    }

    /// The interleaving that would lose a document without the dossier's
    /// lock: one is added to a dossier (not committed yet) while another
    /// engine claims the dossier's last waiting one.
    @Test func aDocumentAddedWhileItsDossiersLastIsClaimedKeepsTheDossiersTurn() async throws {
        let fixture = try await SeededStore.make(.postgres, [SeedDocument(id: "last", next: 1)])
        let store = fixture.store
        let (whileAdding, afterwards) = try await onThread {
            let adding = try PostgresConnection(fixture.uri!)
            try adding.execute("BEGIN")
            try SeededStore.insert(SeedDocument(id: "added", next: 1), on: adding)
            let whileAdding = try store.claimNextBlocking(now: Self.start, admit: Self.anyConnector)?.id
            try adding.execute("COMMIT")
            return (whileAdding, try store.claimNextBlocking(now: Self.start, admit: Self.anyConnector)?.id)
        }
        #expect(whileAdding == "last")
        #expect(afterwards == "added")
    }

    /// Claims and transmits until nothing is due, as a worker does.
    private static func sendAll(_ engine: PostgresSendingStore, noting claimed: Claimed) throws {
        var next = try engine.claimNextBlocking(now: start, admit: anyConnector)
        while let document = next {
            claimed.ids.withLock { $0.append(document.id) }
            let change = DocumentChange.transmitted(inqomDocumentID: document.seq, duplicate: false, archivePath: nil)
            next = try engine.recordBlocking(change, of: document, at: start, claimNext: anyConnector)
        }
    }
}
