import Foundation
import Store

/// What both sending stores write the same way, inside their transactions.
extension SQLConnection {
    /// Records what an attempt made of a document, with its history line
    /// (and, on PostgreSQL, the end of its lease); then `claimNext`; then
    /// the event MCF follows, last, as events are appended. With engines
    /// sharing the database (`owner`: this engine's node), an outcome
    /// counts only while the document is still being sent: a failure, a
    /// retry or a requeue only while this engine still holds its lease
    /// (another that took it back after the lease ran out decides now);
    /// Inqom's receipt whoever holds it, and once.
    func record(
        _ change: DocumentChange, of document: Outgoing, at now: Date, leasedBy owner: String? = nil,
        thenClaim claimNext: () throws -> Outgoing?
    ) throws -> Outgoing? {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let seq = SQLValue.integer(document.seq)
        let released = dialect == .postgres ? ", lease_owner = NULL, lease_until = NULL" : ""
        let (which, keys): (String, [SQLValue]) =
            switch (owner, change) {
            case (nil, _): ("seq = ?", [seq])
            case (.some, .transmitted): ("seq = ? AND state = \(DocumentState.sending.sql)", [seq])
            case (let owner?, _): ("seq = ? AND state = \(DocumentState.sending.sql) AND lease_owner = ?", [seq, .text(owner)])
            }
        let updated: Int
        switch change {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            updated = try run(
                """
                UPDATE documents SET state = ?, attempts = attempts + 1, next_attempt_at = NULL,
                    inqom_document_id = ?, archive_path = ?, transmitted_at = ?, spool_name = NULL, last_error = NULL\(released)
                WHERE \(which)
                """, [.word(DocumentState.transmitted), .integer(inqomDocumentID), archivePath.map { .text($0) } ?? .null, at] + keys)
        case .retrying(let attempts, let next, let message, let status):
            let lastError = DocumentChange.lastError(reason: .inqomUnavailable, message: message, httpStatus: status)
            updated = try run(
                "UPDATE documents SET state = ?, attempts = ?, next_attempt_at = ?, planned_at = ?, last_error = ?\(released) WHERE \(which)",
                [.word(DocumentState.retrying), .integer(Int64(attempts)), .real(next.timeIntervalSince1970), at, .text(lastError)] + keys)
        case .failed(let reason, let message, let status, let spent):
            let lastError = DocumentChange.lastError(reason: reason, message: message, httpStatus: status)
            updated = try run(
                """
                UPDATE documents SET state = ?, reason = ?, attempts = attempts + ?, next_attempt_at = NULL,
                    last_error = ?, failed_at = ?\(released) WHERE \(which)
                """, [.word(DocumentState.failed), .word(reason), .integer(Int64(spent)), .text(lastError), at] + keys)
        case .requeued(let date, _):
            updated = try run(
                """
                UPDATE documents SET state = CASE WHEN attempts = 0 THEN ? ELSE ? END, next_attempt_at = ?, planned_at = ?\(released)
                WHERE \(which)
                """, [.word(DocumentState.queued), .word(DocumentState.retrying), .real(date.timeIntervalSince1970), at] + keys)
        }
        // The document's connector was removed while it was being sent (nothing of that firm is written
        // again), or another engine sends it now: this outcome is not the document's.
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
