import Foundation

/// One step of the schema: numbered, append-only, never changed once shipped.
public struct Migration: Sendable {
    public let number: Int
    public let name: String
    public let sql: String

    public init(_ number: Int, _ name: String, sql: String) {
        self.number = number
        self.name = name
        self.sql = sql
    }
}

extension Migration {
    /// What a database that has `applied` lacks of `migrations`, in order.
    /// A database that has a migration none of them is, was written by a
    /// newer pushdoc: refused, naming both versions.
    public static func missing(from migrations: [Migration], applied: Set<Int>) throws(MigrationError) -> [Migration] {
        precondition(
            migrations.map(\.number) == (0..<migrations.count).map { $0 + 1 },
            "migrations must be numbered 1, 2, 3, … without gaps")
        if let newest = applied.max(), newest > migrations.count {
            throw MigrationError(
                description: "the database has migration \(newest), newer than this engine knows (\(migrations.count)): "
                    + "it was written by a newer pushdoc")
        }
        return migrations.filter { !applied.contains($0.number) }
    }
}

/// Applies the migrations a database lacks, in order, each in its own
/// transaction, recording each in `schema_migrations`.
struct Migrator {
    let migrations: [Migration]

    func migrate(_ connection: SQLiteConnection) throws {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)
            """)
        let applied = Set(try connection.rows("SELECT number FROM schema_migrations") { Int($0.int(0)) })
        for migration in try Migration.missing(from: migrations, applied: applied) {
            try connection.transaction {
                try connection.execute(migration.sql)
                try connection.run(
                    "INSERT INTO schema_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    [.integer(Int64(migration.number)), .text(migration.name), .text(Date().ISO8601Format())])
            }
        }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
