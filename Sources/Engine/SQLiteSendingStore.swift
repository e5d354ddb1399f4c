import Foundation
import Store

/// `SendingStore` on the engine's SQLite database, for every connector.
/// Connectors take turns, and within one its dossiers (`dossier_turns`,
/// kept by triggers on `documents`). Queries on due documents name their index (without statistics SQLite
/// would pick `documents_by_state` and sort every queued document at each
/// claim), and spell its states as literals: a partial index serves only a
/// query whose terms match its own.
struct SQLiteSendingStore: SendingStore {
    let storage: any StoreAccess

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
            try connection.record(change, of: document, at: now) {
                try admit.flatMap { try Self.claimDue(connection, limit: 1, now: now, admit: $0).first }
            }
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
            ) { $0.isNull(0) ? nil : try $0.double(0) }.first ?? nil
            return next.map(Date.init(timeIntervalSince1970:))
        }
    }

    func movePlannedAttempts(by seconds: TimeInterval, plannedBefore cutoff: Date) async throws -> Bool {
        try await storage.write { connection in
            try connection.run(
                """
                UPDATE documents SET next_attempt_at = next_attempt_at + ?1, planned_at = planned_at + ?1
                WHERE state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND next_attempt_at IS NOT NULL
                    AND (planned_at IS NULL OR planned_at < ?2)
                """, [.real(seconds), .real(cutoff.timeIntervalSince1970)])
        }
        return true
    }

    func retryNow(at now: Date) async throws {
        try await storage.write { try $0.retryNow(at: now) }
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
        _ connection: any SQLConnection, limit: Int, now: Date, admit: (ConnectorName) -> Bool
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
            ) { try $0.text(0) }
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
    private static func claimOldestDue(_ connection: any SQLConnection, of connector: ConnectorName, now: Date) throws -> Outgoing? {
        let at = SQLValue.real(now.timeIntervalSince1970)
        let turn = try connection.rows(
            """
            SELECT t.dossier_id FROM dossier_turns t INDEXED BY dossier_turns_by_served
            WHERE t.connector = ?1 AND EXISTS (SELECT 1 FROM documents d INDEXED BY documents_due_by_dossier
                WHERE d.connector = ?1 AND d.dossier_id = t.dossier_id
                    AND d.state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql)) AND d.next_attempt_at <= ?2)
            ORDER BY t.served, t.dossier_id LIMIT 1
            """, [connector.sql, at]
        ) { try $0.text(0) }
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
                connector: connector, seq: try row.int(0), id: try row.text(1), dossierID: dossier, path: try row.text(2),
                fileName: try row.text(3), spoolName: try row.optionalText(4), documentType: try row.word(5),
                archiveTemplate: try row.optionalText(6), attempts: Int(try row.int(7)), inqomFolderID: row.isNull(8) ? nil : try row.int(8))
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
}
