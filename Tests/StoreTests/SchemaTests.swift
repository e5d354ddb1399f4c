import Foundation
import TestSupport
import Testing

@testable import Store

struct SchemaTests {
    /// A document row as the schema of its time has it: `before8` without the connector.
    private func insertDocument(_ connection: SQLiteConnection, _ id: String, state: String, before8: Bool = false) throws {
        try connection.run(
            """
            INSERT INTO documents (\(before8 ? "" : "connector, ")id, dossier_id, path, file_name, size, sha256, state, deposited_at, submitted_at)
            VALUES (\(before8 ? "" : "'default', ")?, 'd1', 'Achats/x.pdf', 'x.pdf', 1, 'h', ?, 0, 0)
            """, [.text(id), .text(state)])
    }

    private func countsMatchTheDocuments(_ database: Database) async throws -> Bool {
        try await database.read { connection in
            let kept = try connection.rows("SELECT state, count FROM document_counts WHERE count > 0 ORDER BY state") { "\($0.text(0))=\($0.int(1))" }
            let actual = try connection.rows("SELECT state, count(*) FROM documents GROUP BY state ORDER BY state") { "\($0.text(0))=\($0.int(1))" }
            return kept == actual
        }
    }

    @Test func countsPerStateFollowEveryInsertUpdateAndDeleteFromAnOlderDatabaseOn() async throws {
        let path = TemporaryDirectory.make(prefix: "pushdoc-schema") + "/pushdoc.sqlite"
        do {
            // A database written before the counts existed.
            let older = try Database(path: path, migrations: Array(Schema.migrations.prefix(4)))
            try await older.write { connection in
                for index in 0..<30 { try self.insertDocument(connection, "old-\(index)", state: index % 3 == 0 ? "failed" : "queued", before8: true) }
            }
        }
        let database = try Database(path: path, migrations: Schema.migrations)
        #expect(try await countsMatchTheDocuments(database))
        try await database.write { connection in
            for index in 0..<20 { try self.insertDocument(connection, "new-\(index)", state: "queued") }
            try connection.run("UPDATE documents SET state = 'sending' WHERE id LIKE 'new-1%'")
            try connection.run("UPDATE documents SET state = 'transmitted' WHERE id LIKE 'new-1_'")
            try connection.run("UPDATE documents SET attempts = 2 WHERE state = 'failed'")
            try connection.run("UPDATE documents SET state = state WHERE id LIKE 'old-%'")
            try connection.run("DELETE FROM documents WHERE id LIKE 'old-2%'")
        }
        #expect(try await countsMatchTheDocuments(database))
        let transmitted = try await database.read { try $0.rows("SELECT count FROM document_counts WHERE state = 'transmitted'") { $0.int(0) } }
        #expect(transmitted == [10])
    }
}
