import Foundation
import Store

/// `DigestStore` on the engine's database (SQLite or PostgreSQL). The failures' query spells
/// the failed state as a literal, so that the partial index
/// `documents_failed` serves it.
struct SQLDigestStore: DigestStore {
    let storage: any StoreAccess
    let connector: ConnectorName

    func upsert(_ collaborators: [Collaborator]) async throws {
        let rows: [[SQLValue]] = try collaborators.map { collaborator in
            [connector.sql, .text(collaborator.id), .text(collaborator.name), .text(collaborator.email), .integer(collaborator.dailyDigest ? 1 : 0),
             try collaborator.dossierIds.map { .text(try Self.json($0)) } ?? .null]
        }
        let now = storage.now()
        try await storage.write { [connector] connection in
            if !rows.isEmpty { try connection.noteConnector(connector, at: now) }
            for row in rows {
                try connection.run(
                    """
                    INSERT INTO collaborators (connector, id, name, email, daily_digest, dossier_ids) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (connector, id) DO UPDATE SET name = excluded.name, email = excluded.email,
                        daily_digest = excluded.daily_digest, dossier_ids = excluded.dossier_ids
                    """, row)
            }
        }
    }

    func remove(collaboratorIDs: [String]) async throws -> Int {
        try await storage.write { [connector] connection in
            try collaboratorIDs.reduce(0) {
                $0 + (try connection.run("DELETE FROM collaborators WHERE connector = ? AND id = ?", [connector.sql, .text($1)]))
            }
        }
    }

    func collaborators(id: String?) async throws -> [Collaborator] {
        try await storage.read { [connector] connection in
            try connection.rows(
                "SELECT id, name, email, daily_digest, dossier_ids FROM collaborators WHERE connector = ?"
                    + (id == nil ? "" : " AND id = ?") + " ORDER BY id",
                [connector.sql] + (id.map { [.text($0)] } ?? [])
            ) { row in
                Collaborator(
                    id: try row.text(0), name: try row.text(1), email: try row.text(2), dailyDigest: try row.int(3) == 1,
                    dossierIds: try row.optionalText(4).map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) })
            }
        }
    }

    func failures(of dossierIDs: [String]?, failedIn window: DateInterval) async throws -> [FailedDocument] {
        var bindings: [SQLValue] = [connector.sql, .real(window.start.timeIntervalSince1970), .real(window.end.timeIntervalSince1970)]
        if let dossierIDs { bindings.append(.text(try Self.json(dossierIDs))) }
        let sql: @Sendable (SQLDialect) -> String = { dialect in
            """
            SELECT doc.id, doc.dossier_id, d.name, doc.path, doc.reason, doc.attempts, doc.failed_at, doc.last_error
            FROM documents doc JOIN dossiers d ON d.connector = doc.connector AND d.id = doc.dossier_id
            WHERE doc.connector = ? AND doc.state = \(DocumentState.failed.sql) AND doc.failed_at >= ? AND doc.failed_at < ?
                AND \(dossierIDs == nil ? "d.selected = 1" : "d.id IN (\(dialect.jsonTextElements("?")))")
            ORDER BY d.sort_key, doc.path
            """
        }
        return try await storage.read { [bindings] connection in
            try connection.rows(sql(connection.dialect), bindings) { row in
                let lastError = try row.optionalText(7).map {
                    try JSONDecoder().decode(DocumentStatus.LastError.self, from: Data($0.utf8))
                }
                return FailedDocument(
                    documentID: try row.text(0), dossierID: try row.text(1), dossierName: try row.text(2), path: try row.text(3),
                    reason: try row.optionalWord(4) ?? .inqomUnavailable, attempts: Int(try row.int(5)),
                    failedAt: Date(timeIntervalSince1970: try row.double(6)), httpStatus: lastError?.httpStatus)
            }
        }
    }

    func wasSent(to collaboratorID: String, day: String) async throws -> Bool {
        try await storage.read { [connector] connection in
            try connection.count(
                "SELECT count(*) FROM digests_sent WHERE connector = ? AND collaborator_id = ? AND day = ?",
                [connector.sql, .text(collaboratorID), .text(day)]) > 0
        }
    }

    func recordSent(to collaboratorID: String, day: String, failures: Int, at now: Date) async throws {
        try await storage.write { [connector] connection in
            try connection.run(
                """
                INSERT INTO digests_sent (connector, collaborator_id, day, sent_at, failures) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (connector, collaborator_id, day) DO UPDATE SET sent_at = excluded.sent_at, failures = excluded.failures
                """, [connector.sql, .text(collaboratorID), .text(day), .real(now.timeIntervalSince1970), .integer(Int64(failures))])
            try connection.appendEvent(
                .digestSent, of: connector, at: now, ["collaboratorId": .text(collaboratorID), "date": .text(day), "failures": .number(Int64(failures))])
        }
    }

    func lastScheduledRun() async throws -> (day: String, at: String)? {
        try await storage.read { connection in
            guard let day = try connection.setting(.digestLastScheduledDay, of: .engineWide) else { return nil }
            return (day, try connection.setting(.digestLastRunAt, of: .engineWide) ?? "")
        }
    }

    func recordScheduledRun(day: String?, at: String?) async throws {
        let now = storage.now()
        try await storage.write { connection in
            try connection.setSetting(.digestLastScheduledDay, day, of: .engineWide, at: now)
            try connection.setSetting(.digestLastRunAt, at, of: .engineWide, at: now)
        }
    }

    func claimScheduledRun(day: String, at: String) async throws -> ScheduledRunClaim {
        let now = storage.now()
        return try await storage.write { connection in
            let previous = try connection.setting(.digestLastScheduledDay, of: .engineWide)
            guard previous != day else { return .alreadyTaken }
            let previousAt = try connection.setting(.digestLastRunAt, of: .engineWide)
            // Changed only if still as read: an engine that took it meanwhile wins (PostgreSQL checks again once it committed).
            let key = SQLValue.text(SettingKey.digestLastScheduledDay.rawValue)
            let taken =
                if let previous {
                    try connection.run(
                        "UPDATE settings SET value = ? WHERE connector = ? AND key = ? AND value = ?",
                        [.text(day), ConnectorName.engineWide.sql, key, .text(previous)])
                } else {
                    try connection.run(
                        "INSERT INTO settings (connector, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [ConnectorName.engineWide.sql, key, .text(day)])
                }
            guard taken == 1 else { return .alreadyTaken }
            try connection.setSetting(.digestLastRunAt, at, of: .engineWide, at: now)
            return .taken(previousDay: previous, previousAt: previousAt)
        }
    }

    private static func json(_ ids: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)
    }
}
