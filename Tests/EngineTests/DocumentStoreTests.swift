import Dispatch
import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// A `DocumentStore` under test, with the sending store of the same
/// storage to move documents through their states.
protocol DocumentStoreFixture: Sendable {
    var store: any DocumentStore { get }
    var sending: any SendingStore { get }
    /// Events of the log, oldest first.
    func events() async throws -> [Event]
}

/// One implementation of the seam: every test below runs on each.
struct DocumentStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable ([SeedDocument]) async throws -> any DocumentStoreFixture
}

/// What any `DocumentStore` must do, whatever keeps its documents.
struct DocumentStoreTests {
    static let implementations = StoreKind.allCases.map(SQLDocumentFixture.implementation)

    private static let at = Date(timeIntervalSince1970: 50)

    /// Sends `outcome` for each claimed document, as a worker would.
    private func record(_ change: DocumentChange, _ documents: [Outgoing], in sending: any SendingStore) async throws {
        for document in documents {
            _ = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try sending.recordBlocking(change, of: document, at: Self.at, claimNext: nil) })
                }
            }
        }
    }

    @Test(arguments: implementations)
    func countsAndHistoryFollowEachChange(_ implementation: DocumentStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "a", next: 1), SeedDocument(id: "b", next: 2), SeedDocument(id: "c", next: nil, state: .ignored),
        ])
        #expect(try await fixture.store.counts() == DocumentCounts(queued: 2, ignored: 1))
        let claimed = try await fixture.sending.claimDue(limit: 2, now: Self.at) { _ in true }
        #expect(try await fixture.store.counts() == DocumentCounts(sending: 2, ignored: 1))
        try await record(.transmitted(inqomDocumentID: 9, duplicate: false, archivePath: nil), [claimed[0]], in: fixture.sending)
        try await record(
            .failed(reason: .inqomRejected, message: "illisible", httpStatus: 422, attemptsSpent: 1), [claimed[1]], in: fixture.sending)
        #expect(try await fixture.store.counts() == DocumentCounts(transmitted: 1, failed: 1, ignored: 1))

        let failed = try #require(try await fixture.store.document(id: "b"))
        #expect(failed.state == .failed)
        #expect(failed.lastError?.reason == .inqomRejected)
        #expect(failed.lastError?.httpStatus == 422)
        #expect(failed.history?.map(\.event) == [.failed])
        #expect(try await fixture.store.document(id: "a")?.inqomDocumentId == 9)
        #expect(try await fixture.store.document(id: "nobody") == nil)

        let activity = try await fixture.store.lastActivity()
        #expect(activity.lastSuccessAt == Self.at)
        #expect(activity.lastError?.at == Self.at)
        #expect(activity.lastError?.message == "illisible")
    }

    @Test(arguments: implementations)
    func pagesKeepWhatTheQuerySaysInSubmissionOrder(_ implementation: DocumentStoreImplementation) async throws {
        let seeds = (0..<7).map { SeedDocument(id: "p\($0)", next: 1, dossierID: $0 % 2 == 0 ? "d1" : "d2") }
            + [SeedDocument(id: "q0", next: nil, state: .failed)]
        let fixture = try await implementation.make(seeds)
        var seen: [String] = []
        var after: Int64 = 0
        while true {
            let page = try await fixture.store.page(DocumentQuery(pathPrefix: "Achats/p"), after: after, limit: 3)
            seen += page.items.map(\.documentId)
            guard let next = page.next else { break }
            after = next
        }
        #expect(seen == (0..<7).map { "p\($0)" })
        let evens = try await fixture.store.page(DocumentQuery(dossierID: "d1", state: .queued), after: 0, limit: 100)
        #expect(evens.items.map(\.documentId) == ["p0", "p2", "p4", "p6"])
        #expect(evens.next == nil)
        let failed = try await fixture.store.page(DocumentQuery(state: .failed), after: 0, limit: 100)
        #expect(failed.items.map(\.documentId) == ["q0"])
    }

    @Test(arguments: implementations)
    func aRetryQueuesOnlyFailedDocumentsWithAFreshBudgetAndSaysSo(_ implementation: DocumentStoreImplementation) async throws {
        let fixture = try await implementation.make([
            SeedDocument(id: "f1", next: nil, state: .failed, attempts: 6),
            SeedDocument(id: "f2", next: nil, state: .failed, attempts: 6, dossierID: "d2"),
            SeedDocument(id: "f3", next: nil, state: .failed, attempts: 6),
            SeedDocument(id: "sent", next: nil, state: .transmitted),
        ])
        let store = fixture.store
        #expect(try await store.requeueFailed(documentIDs: ["f1", "sent", "nobody"], dossierID: nil, at: Self.at) == 1)
        #expect(try await store.requeueFailed(documentIDs: nil, dossierID: "d2", at: Self.at) == 1)
        #expect(try await store.counts() == DocumentCounts(queued: 2, transmitted: 1, failed: 1))
        let queued = try await fixture.events().filter { $0.type == EventType.documentQueued.rawValue }
        #expect(queued.map { $0.data["documentId"] } == [.text("f1"), .text("f2")])
        #expect(queued.allSatisfy { $0.data["cause"] == .text("retry") })
        let retried = try #require(try await store.document(id: "f1"))
        #expect(retried.attempts == 0)
        #expect(retried.history?.last?.event == .queued)
        #expect(try await fixture.sending.claimDue(limit: 5, now: Self.at) { _ in true }.map(\.id) == ["f1", "f2"])
        #expect(try await store.requeueFailed(documentIDs: nil, dossierID: nil, at: Self.at) == 1)
    }
}

/// How SQLite reads a page of status.documents: down an index in seq order,
/// never by sorting every document of the connector.
struct SQLiteDocumentPageTests {
    @Test(arguments: [
        DocumentQuery(),
        DocumentQuery(dossierID: "d1"),
        DocumentQuery(state: .failed),
        DocumentQuery(pathPrefix: "Achats/"),
        DocumentQuery(dossierID: "d1", state: .queued, pathPrefix: "Achats/"),
    ])
    func everyPageIsReadInOrderFromAnIndex(_ query: DocumentQuery) async throws {
        let storage = try StorageAccess.fresh("document-page")
        let (sql, bindings) = SQLDocumentStore.pageQuery(query, of: .default, after: 0, limit: 101)
        let plan = try await storage.read { try $0.rows("EXPLAIN QUERY PLAN " + sql, bindings) { try $0.text(3) } }
        #expect(plan.count == 1)
        #expect(plan.allSatisfy { $0.hasPrefix("SEARCH documents USING INDEX") && $0.contains("seq>?") }, "\(plan)")
    }
}

/// The documents of a seeded database of either kind.
struct SQLDocumentFixture: DocumentStoreFixture {
    let seeded: SeededStore
    let store: any DocumentStore
    var sending: any SendingStore { seeded.store }

    static func implementation(_ kind: StoreKind) -> DocumentStoreImplementation {
        DocumentStoreImplementation(description: kind.description) { seeds in
            let seeded = try await SeededStore.make(kind, seeds)
            return SQLDocumentFixture(seeded: seeded, store: SQLDocumentStore(storage: seeded.storage, connector: .default))
        }
    }

    func events() async throws -> [Event] { try await seeded.events() }
}
