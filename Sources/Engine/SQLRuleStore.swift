import Store

/// `RuleStore` on the engine's database (SQLite or PostgreSQL).
struct SQLRuleStore: RuleStore {
    let storage: any StoreAccess
    let connector: ConnectorName

    func rules() async throws -> [Rule] {
        try await storage.read { [connector] in try Self.rules($0, of: connector) }
    }

    func save(_ rule: Rule, depositKey: String, replacing id: String?) async throws {
        let now = storage.now()
        try await storage.write { [connector] connection in
            let clash = try connection.count(
                "SELECT count(*) FROM rules WHERE connector = ? AND deposit_key = ? AND document_type = ? AND id != ?",
                [connector.sql, .text(depositKey), .word(rule.documentType), .text(id ?? "")])
            guard clash == 0 else { throw DuplicateRule() }
            try connection.noteConnector(connector, at: now)
            if let id { try connection.run("DELETE FROM rules WHERE connector = ? AND id = ?", [connector.sql, .text(id)]) }
            try connection.run(
                """
                INSERT INTO rules (connector, id, deposit_path, deposit_key, document_type, archive_path, period, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [connector.sql, .text(rule.id), .text(rule.depositPath), .text(depositKey), .word(rule.documentType),
                 rule.archivePath.map { .text($0) } ?? .null, .word(rule.period), .text(rule.createdAt)])
            try SQLConnectorStore.refreshState(of: connector, connection)
        }
    }

    func delete(id: String) async throws -> Bool {
        try await storage.write { [connector] connection in
            let deleted = try connection.run("DELETE FROM rules WHERE connector = ? AND id = ?", [connector.sql, .text(id)]) == 1
            try SQLConnectorStore.refreshState(of: connector, connection)
            return deleted
        }
    }

    /// A connector's rules, oldest first, inside the caller's transaction.
    static func rules(_ connection: any SQLConnection, of connector: ConnectorName) throws -> [Rule] {
        try connection.rows(
            """
            SELECT id, deposit_path, document_type, archive_path, period, created_at FROM rules WHERE connector = ?
            ORDER BY created_at, id
            """, [connector.sql]
        ) { row in
            Rule(
                id: try row.text(0), depositPath: try row.text(1), documentType: try row.word(2), archivePath: try row.optionalText(3),
                period: try row.word(4), createdAt: try row.text(5))
        }
    }
}
