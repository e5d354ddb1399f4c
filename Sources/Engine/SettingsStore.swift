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

extension SQLiteConnection {
    func setting(_ key: SettingKey) throws -> String? {
        try rows("SELECT value FROM settings WHERE key = ?", [.text(key.rawValue)]) { $0.text(0) }.first
    }

    func setSetting(_ key: SettingKey, _ value: String?) throws {
        if let value {
            try run(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [.text(key.rawValue), .text(value)])
        } else {
            try run("DELETE FROM settings WHERE key = ?", [.text(key.rawValue)])
        }
    }

    func count(_ sql: String, _ bindings: [SQLValue] = []) throws -> Int {
        try rows(sql, bindings) { Int($0.int(0)) }.first ?? 0
    }
}
