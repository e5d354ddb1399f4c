import Foundation
import Store

/// `ConnectorStore` on the engine's database (SQLite or PostgreSQL): settings are rows of
/// the `settings` table (`SettingKey`).
struct SQLConnectorStore: ConnectorStore {
    let storage: any StoreAccess
    let connector: ConnectorName
    /// The catalog's search index, whose selection a reset clears.
    let search: DossierSearch

    func status() async throws -> ConnectorStatus {
        try await storage.read { [connector] in try Self.status($0, of: connector) }
    }

    func settings() async throws -> ConnectorSettings {
        try await storage.read { [connector] in try Self.settings($0, of: connector) }
    }

    func progress() async throws -> WizardProgress {
        try await storage.read { [connector] in try Self.progress($0, of: connector) }
    }

    func update(
        reason: String?, at now: Date,
        _ edit: @escaping @Sendable (inout ConnectorSettings, _ progress: () throws -> WizardProgress) throws -> Void
    ) async throws -> ConnectorState {
        try await storage.write { [connector] connection in
            try Self.changingState(connection, of: connector, reason: reason, at: now) {
                var settings = try Self.settings(connection, of: connector)
                let before = settings
                try edit(&settings) { try Self.progress(connection, of: connector) }
                if settings != before { try Self.save(settings, of: connector, at: now, connection) }
            }
        }
    }

    func saveMapping(_ matched: [MatchedDossier], siretAttribute: String, at now: Date) async throws {
        try await storage.write { [connector] connection in
            try connection.run("DELETE FROM mapping WHERE connector = ?", [connector.sql])
            for row in matched {
                try connection.run(
                    "INSERT INTO mapping (connector, dossier_id, siret, inqom_folder_id, inqom_folder_name) VALUES (?, ?, ?, ?, ?)",
                    [connector.sql, .text(row.dossierId), .text(row.siret), .integer(row.inqomFolderId), .text(row.inqomFolderName)])
            }
            try connection.setSetting(.siretAttribute, siretAttribute, of: connector, at: now)
            let waiting = try connection.rows(
                """
                SELECT seq FROM documents WHERE connector = ?1 AND state = ?2 AND reason = ?3
                    AND dossier_id IN (SELECT dossier_id FROM mapping WHERE connector = ?1)
                """, [connector.sql, .word(DocumentState.failed), .word(DocumentReason.dossierNotMapped)]
            ) { try $0.int(0) }
            for seq in waiting {
                try connection.requeue(seq, of: connector, at: now, because: .mapping, detail: "dossier now mapped")
            }
        }
    }

    func savedMapping(paging: Paging) async throws -> SavedMapping {
        try await storage.read { [connector] connection in
            SavedMapping(
                siretAttribute: try connection.setting(.siretAttribute, of: connector),
                total: try connection.count("SELECT count(*) FROM mapping WHERE connector = ?", [connector.sql]), page: paging.page,
                pageSize: paging.pageSize,
                items: try connection.rows(
                    """
                    SELECT m.dossier_id, d.name, m.siret, m.inqom_folder_id, m.inqom_folder_name
                    FROM mapping m JOIN dossiers d ON d.connector = m.connector AND d.id = m.dossier_id
                    WHERE m.connector = ? ORDER BY d.sort_key, d.id LIMIT ? OFFSET ?
                    """, [connector.sql, .integer(Int64(paging.pageSize)), .integer(Int64(paging.offset))]
                ) {
                    MatchedDossier(
                        dossierId: try $0.text(0), name: try $0.text(1), siret: try $0.text(2), inqomFolderId: try $0.int(3),
                        inqomFolderName: try $0.text(4))
                })
        }
    }

    func reset(at now: Date) async throws {
        _ = try await search.write(storage) { [connector] connection, index in
            try connection.noteConnector(connector, at: now)
            return try Self.changingState(connection, of: connector, reason: "connector.reset", at: now) {
                try Self.save(ConnectorSettings(), of: connector, at: now, connection)
                try connection.run("DELETE FROM mapping WHERE connector = ?", [connector.sql])
                try connection.run("DELETE FROM rules WHERE connector = ?", [connector.sql])
                try connection.run("UPDATE dossiers SET selected = 0 WHERE connector = ? AND selected = 1", [connector.sql])
                index?.clearSelection()
            }
        }
    }

    /// The connector's state, from settings and, before the wizard's end,
    /// two existence checks: cheap enough for every claim and submit,
    /// whatever the size of the catalog (the steps' counts are not).
    static func status(_ connection: any SQLConnection, of connector: ConnectorName) throws -> ConnectorStatus {
        try settings(connection, of: connector).status {
            try connection.count("SELECT EXISTS (SELECT 1 FROM dossiers WHERE connector = ? AND selected = 1)", [connector.sql]) > 0
                || connection.count("SELECT EXISTS (SELECT 1 FROM rules WHERE connector = ?)", [connector.sql]) > 0
        }
    }

    /// Works out the connector's state again and keeps it in `connectors`,
    /// for lists and counts over every connector; after a write that may
    /// change it (a selection, a rule).
    static func refreshState(of connector: ConnectorName, _ connection: any SQLConnection) throws {
        try keepState(try status(connection, of: connector).state, of: connector, connection)
    }

    private static func keepState(_ state: ConnectorState, of connector: ConnectorName, _ connection: any SQLConnection) throws {
        try connection.run("UPDATE connectors SET state = ? WHERE name = ? AND state IS DISTINCT FROM ?", [.word(state), connector.sql, .word(state)])
    }

    /// Runs `change`, then writes `connector.state` if the state moved.
    private static func changingState(
        _ connection: any SQLConnection, of connector: ConnectorName, reason: String?, at now: Date, _ change: () throws -> Void
    ) throws -> ConnectorState {
        let before = try status(connection, of: connector).state
        try change()
        let after = try status(connection, of: connector).state
        if let event = ConnectorSettings.stateEvent(from: before, to: after, reason: reason) {
            try connection.appendEvent(.connectorState, of: connector, at: now, event)
        }
        try keepState(after, of: connector, connection)
        return after
    }

    private static func settings(_ connection: any SQLConnection, of connector: ConnectorName) throws -> ConnectorSettings {
        var stored: [SettingKey: String] = [:]
        try connection.query("SELECT key, value FROM settings WHERE connector = ?", [connector.sql]) { row in
            if let key = SettingKey(rawValue: try row.text(0)) { stored[key] = try row.text(1) }
        }
        return ConnectorSettings(
            finishedAt: stored[.wizardFinished], paused: stored[.connectorPaused] != nil, login: stored[.inqomLogin],
            sealedCredentials: stored[.inqomCredentials], connectedAt: stored[.inqomConnectedAt],
            siretAttribute: stored[.siretAttribute], tokenRefused: stored[.tokenRefused] != nil,
            credentialsUnreadable: stored[.credentialsUnreadable] != nil)
    }

    private static func save(_ settings: ConnectorSettings, of connector: ConnectorName, at now: Date, _ connection: any SQLConnection) throws {
        let values: [SettingKey: String?] = [
            .wizardFinished: settings.finishedAt, .connectorPaused: settings.paused ? "1" : nil, .inqomLogin: settings.login,
            .inqomCredentials: settings.sealedCredentials, .inqomConnectedAt: settings.connectedAt,
            .siretAttribute: settings.siretAttribute, .tokenRefused: settings.tokenRefused ? "1" : nil,
            .credentialsUnreadable: settings.credentialsUnreadable ? "1" : nil,
        ]
        for (key, value) in values { try connection.setSetting(key, value, of: connector, at: now) }
    }

    private static func progress(_ connection: any SQLConnection, of connector: ConnectorName) throws -> WizardProgress {
        WizardProgress(
            selectedDossiers: try connection.count("SELECT count(*) FROM dossiers WHERE connector = ? AND selected = 1", [connector.sql]),
            mappedDossiers: try connection.count(
                """
                SELECT count(*) FROM mapping m JOIN dossiers d ON d.connector = m.connector AND d.id = m.dossier_id AND d.selected = 1
                WHERE m.connector = ?
                """, [connector.sql]),
            rules: try connection.count("SELECT count(*) FROM rules WHERE connector = ?", [connector.sql]))
    }
}
