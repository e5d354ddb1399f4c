import Foundation
import Store

/// `ConnectorDirectory` on the engine's database (SQLite or PostgreSQL).
struct SQLConnectorDirectory: ConnectorDirectory {
    let storage: any StoreAccess

    func list(state: ConnectorState?, after: String?, limit: Int) async throws -> [ConnectorEntry] {
        try await storage.read { connection in
            let rows = try connection.rows(
                """
                SELECT name, state, created_at FROM connectors
                WHERE name > ?1 AND (?2 IS NULL OR state = ?2) ORDER BY name LIMIT ?3
                """, [.text(after ?? ""), state.map { .word($0) } ?? .null, .integer(Int64(limit))]
            ) { (name: try $0.text(0), state: try $0.optionalWord(1, as: ConnectorState.self), createdAt: try $0.double(2)) }
            return try rows.map { row in
                let name = ConnectorName(row.name) ?? .default
                let counts = try SQLDocumentStore.counts(connection, of: name)
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
            try connection.query("SELECT state, count(*) FROM connectors WHERE state IS NOT NULL GROUP BY state", []) { row in
                states[try row.word(0, as: ConnectorState.self)] = Int(try row.int(1))
            }
            return (try SQLDocumentStore.counts(connection, of: nil), states)
        }
    }

    func lastActivity() async throws -> InqomActivity {
        try await storage.read { try SQLDocumentStore.lastActivity($0, of: nil) }
    }

    func withDailyDigests() async throws -> [ConnectorName] {
        try await storage.read { connection in
            try connection.rows("SELECT DISTINCT connector FROM collaborators WHERE daily_digest = 1 ORDER BY connector") {
                ConnectorName(try $0.text(0))
            }.compactMap { $0 }
        }
    }

    func remove(_ connector: ConnectorName, at now: Date) async throws -> [String]? {
        try await storage.write { connection -> [String]? in
            guard try connection.count("SELECT count(*) FROM connectors WHERE name = ?", [connector.sql]) == 1 else { return nil }
            let spooled = try connection.rows(
                "SELECT spool_name FROM documents WHERE connector = ? AND spool_name IS NOT NULL", [connector.sql]
            ) { try $0.text(0) }
            try connection.run(
                "DELETE FROM document_history WHERE document_seq IN (SELECT seq FROM documents WHERE connector = ?)", [connector.sql])
            for table in Self.tablesOfAConnector {
                try connection.run("DELETE FROM \(table) WHERE connector = ?", [connector.sql])
            }
            try connection.run("DELETE FROM connectors WHERE name = ?", [connector.sql])
            try connection.appendEvent(.connectorRemoved, of: connector, at: now, ["connector": .text(connector.rawValue)])
            return spooled
        }
    }

    /// Every table with a `connector` column, documents' counts and turns
    /// after the documents (their triggers write to them first).
    private static let tablesOfAConnector = [
        "settings", "mapping", "rules", "dossiers", "catalog_folders", "collaborators", "digests_sent", "documents",
        "document_counts", "dossier_turns", "events",
    ]

    func settleUnknownStates() async throws {
        try await storage.write { connection in
            let unknown = try connection.rows("SELECT name FROM connectors WHERE state IS NULL") { try $0.text(0) }
            for name in unknown.compactMap(ConnectorName.init) {
                try SQLConnectorStore.refreshState(of: name, connection)
            }
        }
    }
}
