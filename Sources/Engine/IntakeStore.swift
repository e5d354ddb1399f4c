import Foundation

/// What intake needs from storage: in one transaction, the facts a new
/// document is judged on, the judgement, and the judged document stored
/// with its history and event (replacing an earlier ignored one of the same
/// id). The engine judges; the store keeps. `SQLIntakeStore`, on SQLite or PostgreSQL, is the
/// implementation; `IntakeStoreTests` says what any must do.
protocol IntakeStore: Sendable {
    /// A queued document's row names its spool file, kept until Inqom has
    /// the bytes; otherwise the file is released once the row is stored.
    var keepsSpoolFile: Bool { get }
    /// Reads the facts about `document`, asks `judge`, and stores what it
    /// says; a `judge` that throws leaves everything as it was.
    func admit(_ document: NewDocument, judge: @escaping @Sendable (IntakeFacts) throws -> IntakeVerdict) async throws
        -> IntakeVerdict
}

/// A submission whose bytes are in the spool.
struct NewDocument: Sendable {
    let id: String
    let dossierID: String
    /// Relative to the dossier; `folder` is the part before the file's name.
    let path: String
    let folder: String
    let fileName: String
    let size: Int64
    let sha256: String
    let spoolName: String
    let depositedAt: Date
    let submittedAt: Date
}

/// What a new document is judged on, read in the transaction that stores it.
struct IntakeFacts: Sendable {
    /// A document stored under the same id, as a submission of it would answer.
    struct Existing: Sendable {
        let dossierID: String
        let path: String
        let sha256: String
        let result: SubmissionResult
    }

    let existing: Existing?
    /// Whether the dossier is selected; nil when MCF never mirrored it.
    let dossierSelected: Bool?
    let connectorState: ConnectorState
    let rules: [Rule]
    /// The same bytes already reached Inqom for this dossier.
    let alreadyTransmitted: Bool
    /// The dossier's Inqom accounting folder, nil when it is not mapped.
    let inqomFolderID: Int64?
}

/// What intake decided about a new document.
enum IntakeVerdict: Sendable {
    /// Answered without writing: the same document again, or a dry run.
    case answer(SubmissionResult)
    /// Stored in the result's state, by `rule`; a queued document keeps its spool file.
    case store(SubmissionResult, history: HistoryEvent, rule: Rule?)

    var result: SubmissionResult {
        switch self {
        case .answer(let result), .store(let result, _, _): result
        }
    }

    /// Whether the document was queued, and so keeps its spooled bytes.
    var isQueued: Bool {
        if case .store(let result, _, _) = self { return result.state == .queued }
        return false
    }
}
