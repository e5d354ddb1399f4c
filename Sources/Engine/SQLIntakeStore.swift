import Foundation
import Postgres
import Store

/// `IntakeStore` on the engine's database (SQLite or PostgreSQL).
struct SQLIntakeStore: IntakeStore {
    let storage: any StoreAccess
    let connector: ConnectorName
    let bytes: any DocumentBytes

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
            let existing = try Self.existing(connection, document.id, of: connector)
            let facts = IntakeFacts(
                existing: existing?.facts,
                dossierSelected: try connection.rows(
                    "SELECT selected FROM dossiers WHERE connector = ? AND id = ?", [connector.sql, .text(document.dossierID)]
                ) { try $0.int(0) == 1 }.first,
                connectorState: try SQLConnectorStore.status(connection, of: connector).state,
                rules: try SQLRuleStore.rules(connection, of: connector),
                alreadyTransmitted: try connection.count(
                    """
                    SELECT count(*) FROM documents
                    WHERE connector = ? AND dossier_id = ? AND sha256 = ? AND state = \(DocumentState.transmitted.sql)
                    """,
                    [connector.sql, .text(document.dossierID), .text(document.sha256)]) > 0,
                inqomFolderID: try connection.rows(
                    "SELECT inqom_folder_id FROM mapping WHERE connector = ? AND dossier_id = ?", [connector.sql, .text(document.dossierID)]
                ) { try $0.int(0) }.first)
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
                 .integer(document.size), .text(document.sha256), queued ? .text(document.spoolName) : .null,
                 rule.map { .text($0.id) } ?? .null, rule.map { .text($0.documentType.rawValue) } ?? .null,
                 rule?.archivePath.map { .text($0) } ?? .null, .word(result.state), result.reason.map { .word($0) } ?? .null,
                 queued ? .real(document.submittedAt.timeIntervalSince1970) : .null,
                 queued ? .real(document.submittedAt.timeIntervalSince1970) : .null,
                 .real(document.depositedAt.timeIntervalSince1970), .real(document.submittedAt.timeIntervalSince1970)]
            ) { try $0.int(0) }
            guard let seq = inserted.first else { throw EngineError.storageUnavailable(detail: "the new document's row was not written") }
            try connection.addHistory(seq, at: document.submittedAt, event: history, detail: result.reason?.rawValue)
            if queued {
                try bytes.keep(document, seq: seq, on: connection)
                try connection.appendQueuedEvent(
                    documentID: document.id, dossierID: document.dossierID, path: document.path, of: connector, cause: .submitted,
                    at: document.submittedAt)
            }
            return verdict
        }
    }

    private static func existing(_ connection: any SQLConnection, _ documentID: String, of connector: ConnectorName) throws
        -> (seq: Int64, facts: IntakeFacts.Existing)?
    {
        try connection.rows(
            "SELECT seq, dossier_id, path, sha256, state, rule_id, reason FROM documents WHERE connector = ? AND id = ?",
            [connector.sql, .text(documentID)]
        ) {
            (
                try $0.int(0),
                IntakeFacts.Existing(
                    dossierID: try $0.text(1), path: try $0.text(2), sha256: try $0.text(3),
                    result: SubmissionResult(
                        documentId: documentID, state: try $0.word(4), ruleId: try $0.optionalText(5), reason: try $0.optionalWord(6)))
            )
        }.first
    }
}
