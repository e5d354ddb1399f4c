import Store

/// Where a document stands: `documents.state`, and the `state` of
/// `push.submit` and `status.documents` answers.
public enum DocumentState: String, Codable, Sendable, CaseIterable {
    case queued, sending, retrying, transmitted, failed, ignored, duplicate

    /// The spelling as an SQL literal. SQLite uses a partial index
    /// (`documents_due`, `documents_failed`, `documents_sent_bytes`) only
    /// when the query names the index's values as literals, never bound:
    /// the queries on those indexes write their states with this.
    var sql: String { "'\(rawValue)'" }
}

/// Why a document was ignored, found a duplicate, or failed:
/// `documents.reason`, the `reason` of answers, events and the digest.
public enum DocumentReason: String, Codable, Sendable, CaseIterable {
    // Ignored at intake: nothing is kept.
    case dossierNotSelected = "dossier_not_selected"
    case connectorNotActive = "connector_not_active"
    case noMatchingRule = "no_matching_rule"
    // A duplicate: the same bytes already reached Inqom for this dossier.
    case alreadyTransmitted = "already_transmitted"
    // Failed: in the digest, with `push.retry` to send it again.
    case fileMissing = "file_missing"
    case dossierNotMapped = "dossier_not_mapped"
    case inqomFolderNotFound = "inqom_folder_not_found"
    case inqomRejected = "inqom_rejected"
    case inqomUnavailable = "inqom_unavailable"
}

/// A line of a document's history (`document_history.event`, answered by
/// `status.document`).
public enum HistoryEvent: String, Codable, Sendable {
    case queued, ignored, duplicate, requeued, transmitted, failed
    case retryScheduled = "retry_scheduled"

    var sql: String { "'\(rawValue)'" }
}

extension DocumentReason {
    /// The failure in words a firm's collaborator understands, in French
    /// (the daily digest).
    func explanation(httpStatus: Int?, attempts: Int) -> String {
        switch self {
        case .inqomRejected:
            "Inqom a refusé le document" + (httpStatus.map { " (code \($0))" } ?? "")
                + " : le fichier est peut-être illisible, protégé ou d'un type qu'Inqom n'accepte pas."
        case .inqomFolderNotFound:
            "Le dossier comptable Inqom associé à ce dossier n'existe plus ou n'est plus accessible."
        case .dossierNotMapped:
            "Ce dossier n'est associé à aucun dossier comptable Inqom : son SIRET manque ou ne correspond à aucun dossier Inqom."
        case .fileMissing:
            "Le contenu du document n'a pas été retrouvé par le connecteur."
        case .inqomUnavailable:
            "Inqom n'a pas répondu après \(attempts) tentative\(attempts > 1 ? "s" : "")."
        case .dossierNotSelected, .connectorNotActive, .noMatchingRule, .alreadyTransmitted:
            // Not failures: such documents are never in a digest.
            "Le document n'a pas été envoyé."
        }
    }
}

/// The `type` of an event in the durable log (`events.list`, `events.subscribe`).
enum EventType: String {
    case documentQueued = "document.queued"
    case documentTransmitted = "document.transmitted"
    case documentRetryScheduled = "document.retry_scheduled"
    case documentFailed = "document.failed"
    case connectorState = "connector.state"
    case digestSent = "digest.sent"
    case connectorRemoved = "connector.removed"
}

/// Why a document entered the queue (`document.queued`'s `cause`).
enum QueueCause: String {
    case submitted
    /// `push.retry`.
    case retry
    /// A saved mapping gave its dossier an Inqom folder.
    case mapping
}

extension SQLValue {
    /// A state, reason or event word, bound as its spelling.
    static func word(_ word: some RawRepresentable<String>) -> SQLValue { .text(word.rawValue) }
}

/// A stored state, reason or event word; one this version does not know
/// is a damaged database, said as such rather than guessed.
func storedWord<Word: RawRepresentable<String>>(_ text: String, as _: Word.Type = Word.self) throws -> Word {
    guard let word = Word(rawValue: text) else {
        throw EngineError.storageUnavailable(detail: "unknown \(Word.self) '\(text)' in the database")
    }
    return word
}

extension SQLRow {
    func word<Word: RawRepresentable<String>>(_ column: Int32, as _: Word.Type = Word.self) throws -> Word {
        try storedWord(text(column))
    }

    func optionalWord<Word: RawRepresentable<String>>(_ column: Int32, as _: Word.Type = Word.self) throws -> Word? {
        isNull(column) ? nil : try word(column, as: Word.self)
    }
}
