import Foundation
import Store

/// `ConnectorStore` on the engine's SQLite database: settings are rows of
/// the `settings` table (`SettingKey`).
struct SQLiteConnectorStore: ConnectorStore {
    let storage: StorageAccess
    /// The catalog's search index, whose selection a reset clears.
    let search: DossierSearch

    func status() async throws -> ConnectorStatus {
        try await storage.read { try Self.status($0) }
    }

    func settings() async throws -> ConnectorSettings {
        try await storage.read { try Self.settings($0) }
    }

    func progress() async throws -> WizardProgress {
        try await storage.read { try Self.progress($0) }
    }

    func update(
        reason: String?, at now: Date,
        _ edit: @escaping @Sendable (inout ConnectorSettings, _ progress: () throws -> WizardProgress) throws -> Void
    ) async throws -> ConnectorState {
        try await storage.write { connection in
            try Self.changingState(connection, reason: reason, at: now) {
                var settings = try Self.settings(connection)
                let before = settings
                try edit(&settings) { try Self.progress(connection) }
                if settings != before { try Self.save(settings, connection) }
            }
        }
    }

    func saveMapping(_ matched: [MatchedDossier], siretAttribute: String, at now: Date) async throws {
        try await storage.write { connection in
            try connection.run("DELETE FROM mapping")
            for row in matched {
                try connection.run(
                    "INSERT INTO mapping (dossier_id, siret, inqom_folder_id, inqom_folder_name) VALUES (?, ?, ?, ?)",
                    [.text(row.dossierId), .text(row.siret), .integer(row.inqomFolderId), .text(row.inqomFolderName)])
            }
            try connection.setSetting(.siretAttribute, siretAttribute)
            let waiting = try connection.rows(
                """
                SELECT seq FROM documents WHERE state = ? AND reason = ?
                    AND dossier_id IN (SELECT dossier_id FROM mapping)
                """, [.word(DocumentState.failed), .word(DocumentReason.dossierNotMapped)]
            ) { $0.int(0) }
            for seq in waiting { try connection.requeue(seq, at: now, because: .mapping, detail: "dossier now mapped") }
        }
    }

    func savedMapping(paging: Paging) async throws -> SavedMapping {
        try await storage.read { connection in
            SavedMapping(
                siretAttribute: try connection.setting(.siretAttribute),
                total: try connection.count("SELECT count(*) FROM mapping"), page: paging.page, pageSize: paging.pageSize,
                items: try connection.rows(
                    """
                    SELECT m.dossier_id, d.name, m.siret, m.inqom_folder_id, m.inqom_folder_name
                    FROM mapping m JOIN dossiers d ON d.id = m.dossier_id ORDER BY d.sort_key, d.id LIMIT ? OFFSET ?
                    """, [.integer(Int64(paging.pageSize)), .integer(Int64(paging.offset))]
                ) {
                    MatchedDossier(
                        dossierId: $0.text(0), name: $0.text(1), siret: $0.text(2), inqomFolderId: $0.int(3),
                        inqomFolderName: $0.text(4))
                })
        }
    }

    func reset(at now: Date) async throws {
        _ = try await search.write(storage) { connection, index in
            try Self.changingState(connection, reason: "connector.reset", at: now) {
                try Self.save(ConnectorSettings(), connection)
                try connection.execute("DELETE FROM mapping; DELETE FROM rules; UPDATE dossiers SET selected = 0 WHERE selected = 1")
                index?.clearSelection()
            }
        }
    }

    /// The connector's state, from settings and, before the wizard's end,
    /// two existence checks: cheap enough for every claim and submit,
    /// whatever the size of the catalog (the steps' counts are not).
    static func status(_ connection: SQLiteConnection) throws -> ConnectorStatus {
        try settings(connection).status {
            try connection.count("SELECT EXISTS (SELECT 1 FROM dossiers WHERE selected = 1)") > 0
                || connection.count("SELECT EXISTS (SELECT 1 FROM rules)") > 0
        }
    }

    /// Runs `change`, then writes `connector.state` if the state moved.
    private static func changingState(_ connection: SQLiteConnection, reason: String?, at now: Date, _ change: () throws -> Void)
        throws -> ConnectorState
    {
        let before = try status(connection).state
        try change()
        let after = try status(connection).state
        if let event = ConnectorSettings.stateEvent(from: before, to: after, reason: reason) {
            try connection.appendEvent(.connectorState, at: now, event)
        }
        return after
    }

    private static func settings(_ connection: SQLiteConnection) throws -> ConnectorSettings {
        var stored: [SettingKey: String] = [:]
        try connection.query("SELECT key, value FROM settings") { row in
            if let key = SettingKey(rawValue: row.text(0)) { stored[key] = row.text(1) }
        }
        return ConnectorSettings(
            finishedAt: stored[.wizardFinished], paused: stored[.connectorPaused] != nil, login: stored[.inqomLogin],
            sealedCredentials: stored[.inqomCredentials], connectedAt: stored[.inqomConnectedAt],
            siretAttribute: stored[.siretAttribute], tokenRefused: stored[.tokenRefused] != nil,
            credentialsUnreadable: stored[.credentialsUnreadable] != nil)
    }

    private static func save(_ settings: ConnectorSettings, _ connection: SQLiteConnection) throws {
        let values: [SettingKey: String?] = [
            .wizardFinished: settings.finishedAt, .connectorPaused: settings.paused ? "1" : nil, .inqomLogin: settings.login,
            .inqomCredentials: settings.sealedCredentials, .inqomConnectedAt: settings.connectedAt,
            .siretAttribute: settings.siretAttribute, .tokenRefused: settings.tokenRefused ? "1" : nil,
            .credentialsUnreadable: settings.credentialsUnreadable ? "1" : nil,
        ]
        for (key, value) in values { try connection.setSetting(key, value) }
    }

    private static func progress(_ connection: SQLiteConnection) throws -> WizardProgress {
        WizardProgress(
            selectedDossiers: try connection.count("SELECT count(*) FROM dossiers WHERE selected = 1"),
            mappedDossiers: try connection.count("SELECT count(*) FROM mapping m JOIN dossiers d ON d.id = m.dossier_id AND d.selected = 1"),
            rules: try connection.count("SELECT count(*) FROM rules"))
    }
}
