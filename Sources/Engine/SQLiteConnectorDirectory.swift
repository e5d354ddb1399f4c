import Foundation
import Store

/// `ConnectorDirectory` on the engine's SQLite database.
struct SQLiteConnectorDirectory: ConnectorDirectory {
    let storage: StorageAccess

    func list(state: ConnectorState?, after: String?, limit: Int) async throws -> [ConnectorEntry] {
        try await storage.read { connection in
            let rows = try connection.rows(
                """
                SELECT name, state, created_at FROM connectors
                WHERE name > ?1 AND (?2 IS NULL OR state = ?2) ORDER BY name LIMIT ?3
                """, [.text(after ?? ""), state.map { .word($0) } ?? .null, .integer(Int64(limit))]
            ) { (name: $0.text(0), state: try $0.optionalWord(1, as: ConnectorState.self), createdAt: $0.double(2)) }
            return try rows.map { row in
                let name = ConnectorName(row.name) ?? .default
                let counts = try SQLiteDocumentStore.counts(connection, of: name)
                return ConnectorEntry(
                    connector: row.name, state: row.state ?? .unconfigured,
                    documents: .init(
                        queued: counts.queued, sending: counts.sending, retrying: counts.retrying, transmitted: counts.transmitted,
                        failed: counts.failed),
                    createdAt: Timestamp.text(Date(timeIntervalSince1970: row.createdAt)))
            }
        }
    }

    func totals() async throws -> (documents: DocumentCounts, connectors: [ConnectorState: Int]) {
        try await storage.read { connection in
            var states: [ConnectorState: Int] = [:]
            try connection.query("SELECT state, count(*) FROM connectors WHERE state IS NOT NULL GROUP BY state") { row in
                states[try row.word(0, as: ConnectorState.self)] = Int(row.int(1))
            }
            return (try SQLiteDocumentStore.counts(connection, of: nil), states)
        }
    }

    func lastActivity() async throws -> InqomActivity {
        try await storage.read { try SQLiteDocumentStore.lastActivity($0, of: nil) }
    }

    func withDailyDigests() async throws -> [ConnectorName] {
        try await storage.read { connection in
            try connection.rows("SELECT DISTINCT connector FROM collaborators WHERE daily_digest = 1 ORDER BY connector") {
                ConnectorName($0.text(0))
            }.compactMap { $0 }
        }
    }

    func settleUnknownStates() async throws {
        try await storage.write { connection in
            let unknown = try connection.rows("SELECT name FROM connectors WHERE state IS NULL") { $0.text(0) }
            for name in unknown.compactMap(ConnectorName.init) {
                try SQLiteConnectorStore.refreshState(of: name, connection)
            }
        }
    }
}
