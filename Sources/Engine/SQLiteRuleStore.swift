import Store

/// `RuleStore` on the engine's SQLite database.
struct SQLiteRuleStore: RuleStore {
    let storage: StorageAccess

    func rules() async throws -> [Rule] {
        try await storage.read { try Self.rules($0) }
    }

    func save(_ rule: Rule, depositKey: String, replacing id: String?) async throws {
        try await storage.write { connection in
            let clash = try connection.count(
                "SELECT count(*) FROM rules WHERE deposit_key = ? AND document_type = ? AND id != ?",
                [.text(depositKey), .word(rule.documentType), .text(id ?? "")])
            guard clash == 0 else { throw DuplicateRule() }
            if let id { try connection.run("DELETE FROM rules WHERE id = ?", [.text(id)]) }
            try connection.run(
                """
                INSERT INTO rules (id, deposit_path, deposit_key, document_type, archive_path, period, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [.text(rule.id), .text(rule.depositPath), .text(depositKey), .word(rule.documentType),
                 rule.archivePath.map { .text($0) } ?? .null, .word(rule.period), .text(rule.createdAt)])
        }
    }

    func delete(id: String) async throws -> Bool {
        try await storage.write { connection in try connection.run("DELETE FROM rules WHERE id = ?", [.text(id)]) == 1 }
    }

    /// Every rule, oldest first, inside the caller's transaction.
    static func rules(_ connection: SQLiteConnection) throws -> [Rule] {
        try connection.rows(
            "SELECT id, deposit_path, document_type, archive_path, period, created_at FROM rules ORDER BY created_at, id"
        ) { row in
            Rule(
                id: row.text(0), depositPath: row.text(1), documentType: try row.word(2), archivePath: row.optionalText(3),
                period: try row.word(4), createdAt: row.text(5))
        }
    }
}
