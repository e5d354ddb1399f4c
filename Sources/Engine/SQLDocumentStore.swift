import Foundation
import Store

/// `DocumentStore` on the engine's database (SQLite or PostgreSQL). Counts
/// come from what triggers keep, not from a scan.
struct SQLDocumentStore: DocumentStore {
    let storage: any StoreAccess
    let connector: ConnectorName

    func counts() async throws -> DocumentCounts {
        try await storage.read { [connector] in try Self.counts($0, of: connector) }
    }

    /// One connector's counts, or (nil) the sums over every connector.
    static func counts(_ connection: any SQLConnection, of connector: ConnectorName?) throws -> DocumentCounts {
        var counts = DocumentCounts()
        // On PostgreSQL, counts are the sums of changes (no row every engine's writes would queue behind).
        let (table, count) = connection.dialect == .sqlite ? ("document_counts", "count") : ("document_count_changes", "change")
        let sql = connector == nil
            ? "SELECT state, sum(\(count)) FROM \(table) GROUP BY state"
            : "SELECT state, sum(\(count)) FROM \(table) WHERE connector = ? GROUP BY state"
        try connection.query(sql, connector.map { [$0.sql] } ?? []) { row in
            let count = Int(try row.int(1))
            switch try row.word(0, as: DocumentState.self) {
            case .queued: counts.queued = count
            case .sending: counts.sending = count
            case .retrying: counts.retrying = count
            case .transmitted: counts.transmitted = count
            case .failed: counts.failed = count
            case .ignored: counts.ignored = count
            case .duplicate: counts.duplicate = count
            }
        }
        return counts
    }

    func lastActivity() async throws -> InqomActivity {
        try await storage.read { [connector] in try Self.lastActivity($0, of: connector) }
    }

    /// One connector's latest success and error, or (nil) the engine's.
    static func lastActivity(_ connection: any SQLConnection, of connector: ConnectorName?) throws -> InqomActivity {
        // Engine-wide, one look per connector down its own index.
        let lastSuccess = try connection.rows(
            """
            SELECT max((SELECT max(transmitted_at) FROM documents \(connection.dialect.indexedBy("documents_transmitted"))
                        WHERE connector = c.name AND transmitted_at IS NOT NULL))
            FROM (SELECT ?1 AS name WHERE ?1 IS NOT NULL UNION ALL SELECT name FROM connectors WHERE ?1 IS NULL) c
            """, [connector?.sql ?? .null]
        ) { $0.isNull(0) ? nil : Date(timeIntervalSince1970: try $0.double(0)) }.first ?? nil
        let lastError = try connection.rows(
            """
            SELECT h.at, h.detail FROM document_history h \(connection.dialect.indexedBy("document_history_errors"))
            JOIN documents d ON d.seq = h.document_seq
            WHERE h.event IN (\(HistoryEvent.retryScheduled.sql), \(HistoryEvent.failed.sql)) AND (?1 IS NULL OR d.connector = ?1)
            ORDER BY h.at DESC, h.rowid DESC LIMIT 1
            """, [connector?.sql ?? .null]
        ) { (at: Date(timeIntervalSince1970: try $0.double(0)), message: try $0.optionalText(1)) }.first
        return InqomActivity(lastSuccessAt: lastSuccess, lastError: lastError)
    }

    func document(id: String) async throws -> DocumentStatus? {
        try await storage.read { [connector] connection in
            guard let found = try connection.rows(Self.select + " WHERE connector = ? AND id = ?", [connector.sql, .text(id)], Self.status).first
            else { return nil }
            var document = found.document
            document.history = try connection.rows(
                "SELECT at, event, detail FROM document_history WHERE document_seq = ? ORDER BY at, rowid", [.integer(found.seq)]
            ) { .init(at: Timestamp.text(Date(timeIntervalSince1970: try $0.double(0))), event: try $0.word(1), detail: try $0.optionalText(2)) }
            return document
        }
    }

    func page(_ query: DocumentQuery, after: Int64, limit: Int) async throws -> (items: [DocumentStatus], next: Int64?) {
        // One more than asked says whether a next page exists.
        let (sql, bindings) = Self.pageQuery(query, of: connector, after: after, limit: limit + 1)
        let rows = try await storage.read { connection in try connection.rows(sql, bindings, Self.status) }
        let page = rows.prefix(limit)
        return (page.map(\.document), rows.count > limit ? page.last?.seq : nil)
    }

    /// The statement that reads one page of `query`, in seq order.
    static func pageQuery(_ query: DocumentQuery, of connector: ConnectorName, after: Int64, limit: Int) -> (sql: String, bindings: [SQLValue]) {
        var conditions = ["connector = ?", "seq > ?"]
        var bindings: [SQLValue] = [connector.sql, .integer(after)]
        if let dossier = query.dossierID { conditions.append("dossier_id = ?"); bindings.append(.text(dossier)) }
        if let state = query.state { conditions.append("state = ?"); bindings.append(.word(state)) }
        if let prefix = query.pathPrefix {
            conditions.append("substr(path, 1, length(?)) = ?")
            bindings += [.text(prefix), .text(prefix)]
        }
        bindings.append(.integer(Int64(limit)))
        return (select + " WHERE " + conditions.joined(separator: " AND ") + " ORDER BY seq LIMIT ?", bindings)
    }

    func requeueFailed(documentIDs: [String]?, dossierID: String?, at now: Date) async throws -> Int {
        var conditions = ["connector = ?", "state = ?"]
        var bindings: [SQLValue] = [connector.sql, .word(DocumentState.failed)]
        if let documentIDs {
            conditions.append("id IN (\(storage.dialect.jsonTextElements("?")))")
            bindings.append(.text(String(decoding: try JSONEncoder().encode(documentIDs), as: UTF8.self)))
        }
        if let dossierID { conditions.append("dossier_id = ?"); bindings.append(.text(dossierID)) }
        let sql = "SELECT seq FROM documents WHERE " + conditions.joined(separator: " AND ")
        return try await storage.write { [bindings, connector] connection in
            let selected = try connection.rows(sql, bindings) { try $0.int(0) }
            for seq in selected { try connection.requeue(seq, of: connector, at: now, because: .retry, detail: "push.retry") }
            return selected.count
        }
    }

    func spoolNamesInUse() async throws -> Set<String> {
        try await storage.read { connection in
            Set(try connection.rows(
                "SELECT spool_name FROM documents \(connection.dialect.indexedBy("documents_spooled")) WHERE spool_name IS NOT NULL"
            ) {
                try $0.text(0)
            })
        }
    }

    private static let select = """
        SELECT id, dossier_id, path, rule_id, document_type, state, reason, attempts, next_attempt_at, last_error,
            inqom_document_id, archive_path, submitted_at, transmitted_at, failed_at, seq FROM documents
        """

    private static func status(_ row: any SQLRow) throws -> (document: DocumentStatus, seq: Int64) {
        func time(_ column: Int32) throws -> String? {
            try row.optionalDouble(column).map { Timestamp.text(Date(timeIntervalSince1970: $0)) }
        }
        let lastError = try row.optionalText(9).flatMap { try? JSONDecoder().decode(DocumentStatus.LastError.self, from: Data($0.utf8)) }
        let state = try row.word(5, as: DocumentState.self)
        let document = DocumentStatus(
            documentId: try row.text(0), dossierId: try row.text(1), path: try row.text(2), ruleId: try row.optionalText(3),
            documentType: try row.optionalText(4), state: state, reason: try row.optionalWord(6), attempts: Int(try row.int(7)),
            nextAttemptAt: state == .retrying || state == .queued ? try time(8) : nil, lastError: lastError,
            inqomDocumentId: try row.optionalInt(10), archivePath: try row.optionalText(11),
            submittedAt: try time(12) ?? "", transmittedAt: try time(13), failedAt: try time(14), history: nil)
        return (document, try row.int(15))
    }
}
