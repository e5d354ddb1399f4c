import Foundation
import Store

/// What the stores write about a document inside their own
/// transactions: its history lines and its return to the queue.
extension SQLConnection {
    /// A failed document back to the queue with a fresh attempt budget,
    /// said in the event log as when it was first queued.
    func requeue(_ seq: Int64, of connector: ConnectorName, at date: Date, because cause: QueueCause, detail: String) throws {
        try run(
            "UPDATE documents SET state = ?, reason = NULL, attempts = 0, next_attempt_at = ?2, planned_at = ?2, failed_at = NULL WHERE seq = ?3",
            [.word(DocumentState.queued), .real(date.timeIntervalSince1970), .integer(seq)])
        try addHistory(seq, at: date, event: .queued, detail: detail)
        for (id, dossierID, path) in try rows("SELECT id, dossier_id, path FROM documents WHERE seq = ?", [.integer(seq)], {
            (try $0.text(0), try $0.text(1), try $0.text(2))
        }) {
            try appendQueuedEvent(documentID: id, dossierID: dossierID, path: path, of: connector, cause: cause, at: date)
        }
    }

    func appendQueuedEvent(
        documentID: String, dossierID: String, path: String, of connector: ConnectorName, cause: QueueCause, at date: Date
    ) throws {
        try run(queuedEventStatement(documentID: documentID, dossierID: dossierID, path: path, of: connector, cause: cause, at: date))
    }

    func queuedEventStatement(
        documentID: String, dossierID: String, path: String, of connector: ConnectorName, cause: QueueCause, at date: Date
    ) -> SQLStatement {
        eventStatement(.documentQueued, of: connector, at: date, [
            "documentId": .text(documentID), "dossierId": .text(dossierID), "path": .text(path), "cause": .text(cause.rawValue),
        ])
    }

    func addHistory(_ documentSeq: Int64, at date: Date, event: HistoryEvent, detail: String?) throws {
        try run(historyStatement(documentSeq, at: date, event: event, detail: detail))
    }

    func historyStatement(_ documentSeq: Int64, at date: Date, event: HistoryEvent, detail: String?) -> SQLStatement {
        SQLStatement(
            "INSERT INTO document_history (document_seq, at, event, detail) VALUES (?, ?, ?, ?)",
            [.integer(documentSeq), .real(date.timeIntervalSince1970), .word(event), detail.map { .text($0) } ?? .null])
    }
}
