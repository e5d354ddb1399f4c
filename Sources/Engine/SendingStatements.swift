import Foundation
import Store

/// What both sending stores write the same way, inside their transactions.
extension SQLConnection {
    /// Records what an attempt made of a document, with its history line
    /// (and, on PostgreSQL, the end of its lease); then `claimNext`; then
    /// the event MCF follows, last, as events are appended.
    func record(
        _ change: DocumentChange, of document: Outgoing, at now: Date, thenClaim claimNext: () throws -> Outgoing?
    ) throws -> Outgoing? {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let seq = SQLValue.integer(document.seq)
        let released = dialect == .postgres ? ", lease_owner = NULL, lease_until = NULL" : ""
        let updated: Int
        switch change {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            updated = try run(
                """
                UPDATE documents SET state = ?, attempts = attempts + 1, next_attempt_at = NULL,
                    inqom_document_id = ?, archive_path = ?, transmitted_at = ?, spool_name = NULL, last_error = NULL\(released)
                WHERE seq = ?
                """, [.word(DocumentState.transmitted), .integer(inqomDocumentID), archivePath.map { .text($0) } ?? .null, at, seq])
        case .retrying(let attempts, let next, let message, let status):
            let lastError = DocumentChange.lastError(reason: .inqomUnavailable, message: message, httpStatus: status)
            updated = try run(
                "UPDATE documents SET state = ?, attempts = ?, next_attempt_at = ?, planned_at = ?, last_error = ?\(released) WHERE seq = ?",
                [.word(DocumentState.retrying), .integer(Int64(attempts)), .real(next.timeIntervalSince1970), at, .text(lastError), seq])
        case .failed(let reason, let message, let status, let spent):
            let lastError = DocumentChange.lastError(reason: reason, message: message, httpStatus: status)
            updated = try run(
                """
                UPDATE documents SET state = ?, reason = ?, attempts = attempts + ?, next_attempt_at = NULL,
                    last_error = ?, failed_at = ?\(released) WHERE seq = ?
                """, [.word(DocumentState.failed), .word(reason), .integer(Int64(spent)), .text(lastError), at, seq])
        case .requeued(let date, _):
            updated = try run(
                """
                UPDATE documents SET state = CASE WHEN attempts = 0 THEN ? ELSE ? END, next_attempt_at = ?, planned_at = ?\(released)
                WHERE seq = ?
                """, [.word(DocumentState.queued), .word(DocumentState.retrying), .real(date.timeIntervalSince1970), at, seq])
        }
        // The document's connector was removed while it was being sent: nothing of that firm is written again.
        guard updated > 0 else { return try claimNext() }
        if case .transmitted = change, dialect == .postgres {
            try run("DELETE FROM document_parts WHERE document_seq = ?", [seq])
        }
        let history = change.history
        try addHistory(document.seq, at: now, event: history.event, detail: history.detail)
        let next = try claimNext()
        if let event = change.event(of: document) { try appendEvent(event.type, of: document.connector, at: now, event.data) }
        return next
    }

    /// Every retrying document waiting for a later attempt is due at `now`.
    func retryNow(at now: Date) throws {
        try run(
            """
            UPDATE documents SET next_attempt_at = ?1, planned_at = ?1
            WHERE state = \(DocumentState.retrying.sql) AND next_attempt_at > ?1
            """, [.real(now.timeIntervalSince1970)])
    }
}
