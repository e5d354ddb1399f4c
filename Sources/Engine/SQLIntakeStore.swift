import Foundation
import Postgres
import Store

/// `IntakeStore` on the engine's database (SQLite or PostgreSQL).
struct SQLIntakeStore: IntakeStore {
    let storage: any StoreAccess
    let connector: ConnectorName
    let bytes: any DocumentBytes
    var keepsSpoolFile: Bool { bytes.keepsSpoolFile }

    func admit(_ document: NewDocument, judge: @escaping @Sendable (IntakeFacts) throws -> IntakeVerdict) async throws
        -> IntakeVerdict
    {
        do {
            return try await judgeAndStore(document, judge: judge)
        } catch let error as PostgresError where error.isUniqueViolation {
            // Another engine stored the same id between this one's look and its write: looked at again, it is found.
            return try await judgeAndStore(document, judge: judge)
        }
    }

    private func judgeAndStore(_ document: NewDocument, judge: @escaping @Sendable (IntakeFacts) throws -> IntakeVerdict) async throws
        -> IntakeVerdict
    {
        try await storage.write { [connector, bytes] connection in
            let known = try Self.known(connection, document, of: connector)
            let existing = known.existing
            let facts = IntakeFacts(
                existing: existing?.facts, dossierSelected: known.dossierSelected,
                connectorState: try SQLConnectorStore.status(connection, of: connector).state,
                rules: try SQLRuleStore.rules(connection, of: connector), alreadyTransmitted: known.alreadyTransmitted,
                inqomFolderID: known.inqomFolderID)
            let verdict = try judge(facts)
            guard case .store(let result, let history, let rule) = verdict else { return verdict }
            if let existing {
                try connection.run("DELETE FROM document_history WHERE document_seq = ?", [.integer(existing.seq)])
                try connection.run("DELETE FROM documents WHERE seq = ?", [.integer(existing.seq)])
            }
            // No need to record the connector: the dossier's catalog upsert did.
            let queued = result.state == .queued
            let inserted = try connection.rows(
                """
                INSERT INTO documents (connector, id, dossier_id, path, file_name, size, sha256, spool_name, rule_id, document_type,
                    archive_template, state, reason, next_attempt_at, planned_at, deposited_at, submitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq
                """,
                [connector.sql, .text(document.id), .text(document.dossierID), .text(document.path), .text(document.fileName),
                 .integer(document.size), .text(document.sha256), queued && bytes.keepsSpoolFile ? .text(document.spoolName) : .null,
                 rule.map { .text($0.id) } ?? .null, rule.map { .text($0.documentType.rawValue) } ?? .null,
                 rule?.archivePath.map { .text($0) } ?? .null, .word(result.state), result.reason.map { .word($0) } ?? .null,
                 queued ? .real(document.submittedAt.timeIntervalSince1970) : .null,
                 queued ? .real(document.submittedAt.timeIntervalSince1970) : .null,
                 .real(document.depositedAt.timeIntervalSince1970), .real(document.submittedAt.timeIntervalSince1970)]
            ) { try $0.int(0) }
            guard let seq = inserted.first else { throw EngineError.storageUnavailable(detail: "the new document's row was not written") }
            let line = connection.historyStatement(seq, at: document.submittedAt, event: history, detail: result.reason?.rawValue)
            if queued {
                try bytes.keep(document, seq: seq, on: connection, along: [
                    line,
                    connection.queuedEventStatement(
                        documentID: document.id, dossierID: document.dossierID, path: document.path, of: connector, cause: .submitted,
                        at: document.submittedAt),
                ])
            } else {
                try connection.run(line)
            }
            return verdict
        }
    }

    /// What the database knows of the document's id, its dossier and its
    /// bytes, in one statement (each is a lookup by key).
    private static func known(_ connection: any SQLConnection, _ document: NewDocument, of connector: ConnectorName) throws -> (
        existing: (seq: Int64, facts: IntakeFacts.Existing)?, dossierSelected: Bool?, alreadyTransmitted: Bool, inqomFolderID: Int64?
    ) {
        let known = try connection.rows(
            """
            SELECT d.seq, d.dossier_id, d.path, d.sha256, d.state, d.rule_id, d.reason,
                (SELECT selected FROM dossiers WHERE connector = ?1 AND id = ?3),
                EXISTS (SELECT 1 FROM documents WHERE connector = ?1 AND dossier_id = ?3 AND sha256 = ?4
                    AND state = \(DocumentState.transmitted.sql)),
                (SELECT inqom_folder_id FROM mapping WHERE connector = ?1 AND dossier_id = ?3)
            FROM (SELECT 1) AS one LEFT JOIN documents d ON d.connector = ?1 AND d.id = ?2
            """,
            [connector.sql, .text(document.id), .text(document.dossierID), .text(document.sha256)]
        ) { row in
            let existing = row.isNull(0)
                ? nil
                : (
                    try row.int(0),
                    IntakeFacts.Existing(
                        dossierID: try row.text(1), path: try row.text(2), sha256: try row.text(3),
                        result: SubmissionResult(
                            documentId: document.id, state: try row.word(4), ruleId: try row.optionalText(5), reason: try row.optionalWord(6)))
                )
            return (existing, try row.optionalInt(7).map { $0 == 1 }, try row.int(8) == 1, try row.optionalInt(9))
        }
        guard let first = known.first else { throw EngineError.storageUnavailable(detail: "the intake facts were not read") }
        return first
    }
}
