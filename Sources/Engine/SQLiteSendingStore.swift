import Foundation
import Store

/// `SendingStore` on the engine's SQLite database. Queries on due documents
/// name their index (without statistics SQLite would pick
/// `documents_by_state` and sort every queued document at each claim), and
/// spell its states as literals: a partial index serves only a query whose
/// terms match its own.
struct SQLiteSendingStore: SendingStore {
    let storage: StorageAccess
    /// The connector whose documents this store claims and records.
    let connector: ConnectorName

    func claimDue(limit: Int, now: Date) async throws -> [Outgoing] {
        try await storage.write { [connector] in try Self.claimDue($0, of: connector, limit: limit, now: now) }
    }

    func recordBlocking(_ change: DocumentChange, of document: Outgoing, at now: Date, claimNext: Bool) throws -> Outgoing? {
        try storage.writeBlocking { [connector] connection in
            try Self.record(change, of: document, in: connector, at: now, connection)
            return claimNext ? try Self.claimDue(connection, of: connector, limit: 1, now: now).first : nil
        }
    }

    func nextPlannedAttempt() async throws -> Date? {
        try await storage.read { [connector] connection -> Date? in
            guard try SQLiteConnectorStore.status(connection, of: connector).state == .active else { return nil }
            let next = try connection.rows(
                """
                SELECT min(next_attempt_at) FROM documents INDEXED BY documents_due
                WHERE state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND next_attempt_at IS NOT NULL
                    AND connector = ?
                """, [connector.sql]
            ) { $0.isNull(0) ? nil : $0.double(0) }.first ?? nil
            return next.map(Date.init(timeIntervalSince1970:))
        }
    }

    func movePlannedAttempts(by seconds: TimeInterval, plannedBefore cutoff: Date) async throws {
        try await storage.write { connection in
            try connection.run(
                """
                UPDATE documents SET next_attempt_at = next_attempt_at + ?1, planned_at = planned_at + ?1
                WHERE state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND next_attempt_at IS NOT NULL
                    AND (planned_at IS NULL OR planned_at < ?2)
                """, [.real(seconds), .real(cutoff.timeIntervalSince1970)])
        }
    }

    func requeueInterrupted(at now: Date) async throws -> Int {
        try await storage.write { connection in
            try connection.run(
                "UPDATE documents SET state = ?, next_attempt_at = ?2, planned_at = ?2 WHERE state = ?3",
                [.word(DocumentState.queued), .real(now.timeIntervalSince1970), .word(DocumentState.sending)])
        }
    }

    private static func claimDue(_ connection: SQLiteConnection, of connector: ConnectorName, limit: Int, now: Date) throws
        -> [Outgoing]
    {
        guard try SQLiteConnectorStore.status(connection, of: connector).state == .active else { return [] }
        let due = try connection.rows(
            """
            SELECT seq, id, documents.dossier_id, path, file_name, spool_name, document_type, archive_template, attempts,
                mapping.inqom_folder_id
            FROM documents INDEXED BY documents_due
                LEFT JOIN mapping ON mapping.connector = documents.connector AND mapping.dossier_id = documents.dossier_id
            WHERE state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND next_attempt_at <= ?
                AND documents.connector = ?
            ORDER BY next_attempt_at, seq LIMIT ?
            """, [.real(now.timeIntervalSince1970), connector.sql, .integer(Int64(limit))]
        ) { row in
            Outgoing(
                seq: row.int(0), id: row.text(1), dossierID: row.text(2), path: row.text(3), fileName: row.text(4),
                spoolName: row.optionalText(5), documentType: try row.word(6),
                archiveTemplate: row.optionalText(7), attempts: Int(row.int(8)), inqomFolderID: row.isNull(9) ? nil : row.int(9))
        }
        for document in due {
            try connection.run("UPDATE documents SET state = ? WHERE seq = ?", [.word(DocumentState.sending), .integer(document.seq)])
        }
        return due
    }

    private static func record(
        _ change: DocumentChange, of document: Outgoing, in connector: ConnectorName, at now: Date, _ connection: SQLiteConnection
    ) throws {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let seq = SQLValue.integer(document.seq)
        switch change {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            try connection.run(
                """
                UPDATE documents SET state = ?, attempts = attempts + 1, next_attempt_at = NULL,
                    inqom_document_id = ?, archive_path = ?, transmitted_at = ?, spool_name = NULL, last_error = NULL
                WHERE seq = ?
                """, [.word(DocumentState.transmitted), .integer(inqomDocumentID), archivePath.map { .text($0) } ?? .null, at, seq])
        case .retrying(let attempts, let next, let message, let status):
            let lastError = DocumentChange.lastError(reason: .inqomUnavailable, message: message, httpStatus: status)
            try connection.run(
                "UPDATE documents SET state = ?, attempts = ?, next_attempt_at = ?, planned_at = ?, last_error = ? WHERE seq = ?",
                [.word(DocumentState.retrying), .integer(Int64(attempts)), .real(next.timeIntervalSince1970), at, .text(lastError), seq])
        case .failed(let reason, let message, let status, let spent):
            let lastError = DocumentChange.lastError(reason: reason, message: message, httpStatus: status)
            try connection.run(
                """
                UPDATE documents SET state = ?, reason = ?, attempts = attempts + ?, next_attempt_at = NULL,
                    last_error = ?, failed_at = ? WHERE seq = ?
                """, [.word(DocumentState.failed), .word(reason), .integer(Int64(spent)), .text(lastError), at, seq])
        case .requeued(let date, _):
            try connection.run(
                "UPDATE documents SET state = CASE WHEN attempts = 0 THEN ? ELSE ? END, next_attempt_at = ?, planned_at = ? WHERE seq = ?",
                [.word(DocumentState.queued), .word(DocumentState.retrying), .real(date.timeIntervalSince1970), at, seq])
        }
        let history = change.history
        try connection.addHistory(document.seq, at: now, event: history.event, detail: history.detail)
        if let event = change.event(of: document) { try connection.appendEvent(event.type, of: connector, at: now, event.data) }
    }
}
