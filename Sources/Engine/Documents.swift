import Foundation

/// The documents as MCF reads them (one, or a filtered page) and
/// `push.retry`'s requeue of failed ones.
public struct Documents: Sendable {
    let store: any DocumentStore
    let clock: any EngineClock
    let changes: ChangeSignal

    /// How many documents are in each state.
    public func counts() async throws -> DocumentCounts {
        try await store.counts()
    }

    /// The latest upload that succeeded, and the latest error.
    func lastActivity() async throws -> InqomActivity {
        try await store.lastActivity()
    }

    public func status(id: String) async throws -> DocumentStatus {
        guard let document = try await store.document(id: id) else { throw EngineError.unknownDocument(id: id) }
        return document
    }

    public func list(_ filter: DocumentFilter) async throws -> DocumentList {
        try ListParameters.checkLimit(filter.limit)
        var after: Int64 = 0
        if let cursor = filter.cursor {
            guard let seq = Int64(cursor) else {
                throw EngineError.invalidParameter(field: "cursor", message: "not a cursor this engine gave")
            }
            after = seq
        }
        var query = DocumentQuery(dossierID: filter.dossierID, pathPrefix: filter.pathPrefix)
        query.state = try ListParameters.word(filter.state, field: "state")
        let page = try await store.page(query, after: after, limit: filter.limit)
        return DocumentList(items: page.items, nextCursor: page.next.map(String.init))
    }

    /// Failed documents back to the queue with a fresh attempt budget.
    public func retry(documentIDs: [String]?, dossierID: String?) async throws -> Int {
        let requeued = try await store.requeueFailed(documentIDs: documentIDs, dossierID: dossierID, at: clock.now)
        changes.notify()
        return requeued
    }
}
