import Foundation
import InqomClient

/// What the sender needs from storage, each call one transaction: due
/// documents claimed, an attempt's outcome recorded with its history and
/// event (and the worker's next document claimed in the same commit), the
/// next planned attempt, and planned attempts moved when the wall clock
/// jumps. The sender decides; the store keeps. `SQLiteSendingStore` is the
/// implementation for one engine, `PostgresSendingStore` for engines
/// sharing a database (leases); `SendingStoreTests` says what any must do.
protocol SendingStore: Sendable {
    /// Due documents of active connectors, marked `sending`, `limit` at
    /// most. Fair: each is the oldest due document of the connector served
    /// least recently among those with documents due that `admit` lets in
    /// (it reserves a place for that connector, or says it has none), and
    /// within it of the dossier served least recently.
    func claimDue(limit: Int, now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) async throws -> [Outgoing]
    /// The next due document claimed, as `claimDue` would claim one. Blocks:
    /// from a thread that may.
    func claimNextBlocking(now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) throws -> Outgoing?
    /// Records `change` with its history and event; with `claimNext`, claims
    /// the next due document in the same commit, as `claimDue` would. Blocks:
    /// from a thread that may.
    func recordBlocking(
        _ change: DocumentChange, of document: Outgoing, at now: Date, claimNext admit: (@Sendable (ConnectorName) -> Bool)?
    ) throws -> Outgoing?
    /// The earliest planned attempt of a queued or retrying document of an
    /// active connector; nil when there is none.
    func nextPlannedAttempt() async throws -> Date?
    /// Moves by `seconds` the attempts planned before `cutoff` (those
    /// planned since are already in the jumped clock's time); says whether
    /// it moved them. Engines sharing a database move none: their plans are
    /// the deployment's, and the other engines' clocks did not jump.
    func movePlannedAttempts(by seconds: TimeInterval, plannedBefore cutoff: Date) async throws -> Bool
    /// Every retrying document waiting for a later attempt is due at `now`.
    func retryNow(at now: Date) async throws
    /// At start, after a crash: documents left `sending` are due again at
    /// `now` (Inqom flags a resend as Duplicate). Says how many.
    func requeueInterrupted(at now: Date) async throws -> Int
}

/// A document claimed for sending.
struct Outgoing: Sendable, Equatable {
    let connector: ConnectorName
    let seq: Int64
    let id: String
    let dossierID: String
    let path: String
    let fileName: String
    let spoolName: String?
    let documentType: DocumentType
    let archiveTemplate: String?
    let attempts: Int
    /// The dossier's Inqom accounting folder, nil when it is not mapped.
    let inqomFolderID: Int64?
}

/// What an attempt made of a document, as the sender decided it.
enum DocumentChange: Sendable, Equatable {
    case transmitted(inqomDocumentID: Int64, duplicate: Bool, archivePath: String?)
    /// Tried again at `next`; `attempts` counts this one.
    case retrying(attempts: Int, next: Date, message: String, httpStatus: Int?)
    case failed(reason: DocumentReason, message: String, httpStatus: Int?, attemptsSpent: Int)
    /// Back to the queue with no attempt spent (no token, the circuit open, stopping).
    case requeued(at: Date, detail: String)

    /// The line of the document's history.
    var history: (event: HistoryEvent, detail: String?) {
        switch self {
        case .transmitted(_, let duplicate, _): (.transmitted, duplicate ? "Inqom: Duplicate" : nil)
        case .retrying(_, _, let message, _): (.retryScheduled, message)
        case .failed(_, let message, _, _): (.failed, message)
        case .requeued(_, let detail): (.requeued, detail)
        }
    }

    /// The event MCF reads in the log, if the change is one it follows.
    func event(of document: Outgoing) -> (type: EventType, data: [String: EventValue])? {
        var data: [String: EventValue] = [
            "documentId": .text(document.id), "dossierId": .text(document.dossierID), "path": .text(document.path),
        ]
        switch self {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            data["inqomDocumentId"] = .number(inqomDocumentID)
            data["archivePath"] = archivePath.map { .text($0) } ?? .null
            return (.documentTransmitted, data)
        case .retrying(let attempts, let next, let message, _):
            data["attempt"] = .number(Int64(attempts))
            data["nextAttemptAt"] = .text(Timestamp.text(next))
            data["error"] = .text(message)
            return (.documentRetryScheduled, data)
        case .failed(let reason, let message, _, let spent):
            data["reason"] = .text(reason.rawValue)
            data["message"] = .text(message)
            data["attempts"] = .number(Int64(document.attempts + spent))
            return (.documentFailed, data)
        case .requeued:
            return nil
        }
    }

    /// `status.documents`' `lastError`, as stored.
    static func lastError(reason: DocumentReason, message: String, httpStatus: Int?) -> String {
        struct LastError: Encodable {
            let reason: DocumentReason
            let message: String
            let httpStatus: Int?
        }
        let encoded = try? JSONEncoder().encode(LastError(reason: reason, message: message, httpStatus: httpStatus))
        return String(decoding: encoded ?? Data(), as: UTF8.self)
    }
}
