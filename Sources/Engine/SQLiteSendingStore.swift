import Foundation
import Store

/// `SendingStore` on the engine's SQLite database, for every connector.
/// Connectors take turns, and within one its dossiers (`dossier_turns`,
/// kept by triggers on `documents`). Queries on due documents name their index (without statistics SQLite
/// would pick `documents_by_state` and sort every queued document at each
/// claim), and spell its states as literals: a partial index serves only a
/// query whose terms match its own.
struct SQLiteSendingStore: SendingStore {
    let storage: StorageAccess

    func claimDue(limit: Int, now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) async throws -> [Outgoing] {
        try await storage.write { try Self.claimDue($0, limit: limit, now: now, admit: admit) }
    }

    func claimNextBlocking(now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) throws -> Outgoing? {
        try storage.writeBlocking { try Self.claimDue($0, limit: 1, now: now, admit: admit).first }
    }

    func recordBlocking(
        _ change: DocumentChange, of document: Outgoing, at now: Date, claimNext admit: (@Sendable (ConnectorName) -> Bool)?
    ) throws -> Outgoing? {
        try storage.writeBlocking { connection in
            try Self.record(change, of: document, at: now, connection)
            guard let admit else { return nil }
            return try Self.claimDue(connection, limit: 1, now: now, admit: admit).first
        }
    }

    func nextPlannedAttempt() async throws -> Date? {
        try await storage.read { connection -> Date? in
            let next = try connection.rows(
                """
                SELECT min((SELECT min(next_attempt_at) FROM documents INDEXED BY documents_due
                            WHERE connector = c.name AND state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql))
                                AND next_attempt_at IS NOT NULL))
                FROM connectors c INDEXED BY connectors_by_state WHERE c.state = ?
                """, [.word(ConnectorState.active)]
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

    func retryNow(at now: Date) async throws {
        try await storage.write { connection in
            try connection.run(
                """
                UPDATE documents SET next_attempt_at = ?1, planned_at = ?1
                WHERE state = \(DocumentState.retrying.sql) AND next_attempt_at > ?1
                """, [.real(now.timeIntervalSince1970)])
        }
    }

    func requeueInterrupted(at now: Date) async throws -> Int {
        try await storage.write { connection in
            try connection.run(
                """
                UPDATE documents INDEXED BY documents_sending SET state = ?, next_attempt_at = ?2, planned_at = ?2
                WHERE state = \(DocumentState.sending.sql)
                """, [.word(DocumentState.queued), .real(now.timeIntervalSince1970)])
        }
    }

    private static func claimDue(
        _ connection: SQLiteConnection, limit: Int, now: Date, admit: (ConnectorName) -> Bool
    ) throws -> [Outgoing] {
        var claimed: [Outgoing] = []
        var refused: [String] = []
        while claimed.count < limit {
            let found = try connection.rows(
                """
                SELECT c.name FROM connectors c INDEXED BY connectors_by_served
                WHERE c.state = ?1 AND c.name NOT IN (SELECT value FROM json_each(?2))
                    AND EXISTS (SELECT 1 FROM documents d INDEXED BY documents_due WHERE d.connector = c.name
                        AND d.state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND d.next_attempt_at <= ?3)
                ORDER BY c.served, c.name LIMIT 1
                """,
                [.word(ConnectorState.active), .text(String(decoding: try JSONEncoder().encode(refused), as: UTF8.self)),
                 .real(now.timeIntervalSince1970)]
            ) { $0.text(0) }
            guard let name = found.first else { break }
            guard let connector = ConnectorName(name), admit(connector) else {
                refused.append(name)
                continue
            }
            guard let document = try claimOldestDue(connection, of: connector, now: now) else { break }
            claimed.append(document)
            try connection.run(
                "UPDATE connectors SET served = (SELECT coalesce(max(served), 0) + 1 FROM connectors) WHERE name = ?", [connector.sql])
        }
        return claimed
    }

    /// The oldest due document of the connector's dossier served least
    /// recently among those with documents due, marked `sending`.
    private static func claimOldestDue(_ connection: SQLiteConnection, of connector: ConnectorName, now: Date) throws -> Outgoing? {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let turn = try connection.rows(
            """
            SELECT t.dossier_id FROM dossier_turns t INDEXED BY dossier_turns_by_served
            WHERE t.connector = ?1 AND EXISTS (SELECT 1 FROM documents d INDEXED BY documents_due_by_dossier
                WHERE d.connector = ?1 AND d.dossier_id = t.dossier_id
                    AND d.state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND d.next_attempt_at <= ?2)
            ORDER BY t.served, t.dossier_id LIMIT 1
            """, [connector.sql, at]
        ) { $0.text(0) }
        guard let dossier = turn.first else { return nil }
        let due = try connection.rows(
            """
            SELECT seq, id, path, file_name, spool_name, document_type, archive_template, attempts, mapping.inqom_folder_id
            FROM documents INDEXED BY documents_due_by_dossier
                LEFT JOIN mapping ON mapping.connector = documents.connector AND mapping.dossier_id = documents.dossier_id
            WHERE documents.connector = ?1 AND documents.dossier_id = ?2
                AND state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND next_attempt_at <= ?3
            ORDER BY next_attempt_at, seq LIMIT 1
            """, [connector.sql, .text(dossier), at]
        ) { row in
            Outgoing(
                connector: connector, seq: row.int(0), id: row.text(1), dossierID: dossier, path: row.text(2),
                fileName: row.text(3), spoolName: row.optionalText(4), documentType: try row.word(5),
                archiveTemplate: row.optionalText(6), attempts: Int(row.int(7)), inqomFolderID: row.isNull(8) ? nil : row.int(8))
        }.first
        guard let document = due else { return nil }
        try connection.run("UPDATE documents SET state = ? WHERE seq = ?", [.word(DocumentState.sending), .integer(document.seq)])
        // The dossier's turn row is gone if that was its last document waiting.
        try connection.run(
            """
            UPDATE dossier_turns SET served = (SELECT max(served) FROM dossier_turns WHERE connector = ?1) + 1
            WHERE connector = ?1 AND dossier_id = ?2
            """, [connector.sql, .text(dossier)])
        return document
    }

    private static func record(_ change: DocumentChange, of document: Outgoing, at now: Date, _ connection: SQLiteConnection) throws {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let seq = SQLValue.integer(document.seq)
        let updated: Int
        switch change {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            updated = try connection.run(
                """
                UPDATE documents SET state = ?, attempts = attempts + 1, next_attempt_at = NULL,
                    inqom_document_id = ?, archive_path = ?, transmitted_at = ?, spool_name = NULL, last_error = NULL
                WHERE seq = ?
                """, [.word(DocumentState.transmitted), .integer(inqomDocumentID), archivePath.map { .text($0) } ?? .null, at, seq])
        case .retrying(let attempts, let next, let message, let status):
            let lastError = DocumentChange.lastError(reason: .inqomUnavailable, message: message, httpStatus: status)
            updated = try connection.run(
                "UPDATE documents SET state = ?, attempts = ?, next_attempt_at = ?, planned_at = ?, last_error = ? WHERE seq = ?",
                [.word(DocumentState.retrying), .integer(Int64(attempts)), .real(next.timeIntervalSince1970), at, .text(lastError), seq])
        case .failed(let reason, let message, let status, let spent):
            let lastError = DocumentChange.lastError(reason: reason, message: message, httpStatus: status)
            updated = try connection.run(
                """
                UPDATE documents SET state = ?, reason = ?, attempts = attempts + ?, next_attempt_at = NULL,
                    last_error = ?, failed_at = ? WHERE seq = ?
                """, [.word(DocumentState.failed), .word(reason), .integer(Int64(spent)), .text(lastError), at, seq])
        case .requeued(let date, _):
            updated = try connection.run(
                "UPDATE documents SET state = CASE WHEN attempts = 0 THEN ? ELSE ? END, next_attempt_at = ?, planned_at = ? WHERE seq = ?",
                [.word(DocumentState.queued), .word(DocumentState.retrying), .real(date.timeIntervalSince1970), at, seq])
        }
        // The document's connector was removed while it was being sent: nothing of that firm is written again.
        guard updated > 0 else { return }
        let history = change.history
        try connection.addHistory(document.seq, at: now, event: history.event, detail: history.detail)
        if let event = change.event(of: document) { try connection.appendEvent(event.type, of: document.connector, at: now, event.data) }
    }
}
