import Foundation

/// What MCF reads about documents (counts, one document with its history,
/// pages of them) and `push.retry`'s return of failed documents to the
/// queue, each call one transaction. Intake and sending have their own
/// seams (`IntakeStore`, `SendingStore`). `SQLDocumentStore`, on SQLite or PostgreSQL, is the
/// implementation; `DocumentStoreTests` says what any must do.
protocol DocumentStore: Sendable {
    /// Documents per state.
    func counts() async throws -> DocumentCounts
    /// The latest transmission and the latest error written in a history.
    func lastActivity() async throws -> InqomActivity
    /// The document with that id, its history included; nil when none.
    func document(id: String) async throws -> DocumentStatus?
    /// Documents after `after` (in submission order) that `query` keeps, at
    /// most `limit`; `next` is where the following page starts, nil at the end.
    func page(_ query: DocumentQuery, after: Int64, limit: Int) async throws -> (items: [DocumentStatus], next: Int64?)
    /// Failed documents (those of `documentIDs` and `dossierID` when given)
    /// back to the queue with a fresh attempt budget, each with its history
    /// line and `document.queued` event (cause `retry`). Says how many.
    func requeueFailed(documentIDs: [String]?, dossierID: String?, at now: Date) async throws -> Int
    /// The spool files that documents still need.
    func spoolNamesInUse() async throws -> Set<String>
}

/// What `status.documents` keeps, checked by the engine.
struct DocumentQuery: Sendable {
    var dossierID: String?
    var state: DocumentState?
    var pathPrefix: String?
}

/// `status.summary`'s `inqom`, as far as the documents tell it.
struct InqomActivity: Sendable {
    var lastSuccessAt: Date?
    var lastError: (at: Date, message: String?)?
}

public struct DocumentCounts: Codable, Sendable, Equatable {
    public var queued = 0, sending = 0, retrying = 0, transmitted = 0, failed = 0, ignored = 0, duplicate = 0

    public var pending: Int { queued + sending + retrying }
    public var total: Int { pending + transmitted + failed + ignored + duplicate }
}

public struct DocumentStatus: Codable, Sendable {
    public struct LastError: Codable, Sendable {
        public let reason: DocumentReason
        public let message: String
        public let httpStatus: Int?
    }
    public struct HistoryEntry: Codable, Sendable {
        public let at: String
        public let event: HistoryEvent
        public let detail: String?
    }
    public let documentId: String
    public let dossierId: String
    public let path: String
    public let ruleId: String?
    public let documentType: String?
    public let state: DocumentState
    public let reason: DocumentReason?
    public let attempts: Int
    public let nextAttemptAt: String?
    public let lastError: LastError?
    public let inqomDocumentId: Int64?
    public let archivePath: String?
    public let submittedAt: String
    public let transmittedAt: String?
    public let failedAt: String?
    public var history: [HistoryEntry]?
}

public struct DocumentList: Codable, Sendable {
    public let items: [DocumentStatus]
    public let nextCursor: String?
}

/// `status.documents`' parameters as the client gave them.
public struct DocumentFilter: Sendable {
    public var dossierID: String?
    public var state: String?
    public var pathPrefix: String?
    public var cursor: String?
    public var limit: Int

    public init(dossierID: String?, state: String?, pathPrefix: String?, cursor: String?, limit: Int) {
        self.dossierID = dossierID
        self.state = state
        self.pathPrefix = pathPrefix
        self.cursor = cursor
        self.limit = limit
    }
}
