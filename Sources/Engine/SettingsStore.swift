import Foundation
import Store

/// The engine's small settings, kept in the `settings` table.
enum SettingKey: String, CaseIterable {
    case wizardFinished = "wizard.finished"
    case connectorPaused = "connector.paused"
    case inqomLogin = "inqom.login"
    /// The sealed credentials, base64.
    case inqomCredentials = "inqom.credentials"
    case inqomConnectedAt = "inqom.connectedAt"
    case siretAttribute = "mapping.siretAttribute"
    /// Inqom refused the stored credentials while sending: disconnected.
    case tokenRefused = "inqom.tokenRefused"
    /// The sealed credentials did not open at start (another master key,
    /// altered data): disconnected, the sealed copy kept for the right key.
    case credentialsUnreadable = "inqom.credentialsUnreadable"
    /// The day and time of the last scheduled digest run.
    case digestLastScheduledDay = "digest.lastScheduledDay"
    case digestLastRunAt = "digest.lastRunAt"
}

extension ConnectorName {
    /// The connector as a statement binds it.
    var sql: SQLValue { .text(rawValue) }
}

extension SQLConnection {
    func setting(_ key: SettingKey, of connector: ConnectorName) throws -> String? {
        try rows("SELECT value FROM settings WHERE connector = ? AND key = ?", [connector.sql, .text(key.rawValue)]) { try $0.text(0) }.first
    }

    /// Sets (or, with nil, removes) a setting; the connector exists from its first setting on.
    func setSetting(_ key: SettingKey, _ value: String?, of connector: ConnectorName, at now: Date) throws {
        if let value {
            if connector != .engineWide { try noteConnector(connector, at: now) }
            try run(
                """
                INSERT INTO settings (connector, key, value) VALUES (?, ?, ?)
                ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value
                """,
                [connector.sql, .text(key.rawValue), .text(value)])
        } else {
            try run("DELETE FROM settings WHERE connector = ? AND key = ?", [connector.sql, .text(key.rawValue)])
        }
    }

    /// Records that `connector` exists, at its first write.
    func noteConnector(_ connector: ConnectorName, at now: Date) throws {
        try run(
            "INSERT INTO connectors (name, created_at, state) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
            [connector.sql, .real(now.timeIntervalSince1970), .word(ConnectorState.unconfigured)])
    }
}
