import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// Schema migrations on PostgreSQL, as several engines starting together meet them.
struct PostgresMigratorTests {
    /// The second fails if applied twice: its table exists, and its row would be there twice.
    private static let migrations = [
        Migration(1, "documents", sql: "CREATE TABLE documents (id text PRIMARY KEY)"),
        Migration(2, "connectors", sql: "CREATE TABLE connectors (name text); INSERT INTO connectors VALUES ('default')"),
    ]

    @Test func enginesStartingTogetherMigrateOnce() async throws {
        let uri = try await SharedPostgres.newDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { try await onThread { try PostgresMigrator(Self.migrations).migrate(PostgresConnection(uri)) } }
            }
            try await group.waitForAll()
        }
        let (connectors, applied) = try await onThread {
            let connection = try PostgresConnection(uri)
            return (try connection.execute("SELECT name FROM connectors").rows,
                    try connection.execute("SELECT number, name FROM schema_migrations ORDER BY number").rows)
        }
        #expect(connectors == [["default"]])
        #expect(applied == [["1", "documents"], ["2", "connectors"]])
    }

    @Test func aMigrationAddedLaterIsAppliedAtTheNextStart() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let tables = try await onThread {
            let connection = try PostgresConnection(uri)
            try PostgresMigrator(Array(Self.migrations.prefix(1))).migrate(connection)
            try PostgresMigrator(Self.migrations).migrate(connection)
            return try connection.execute("SELECT count(*) FROM connectors").rows
        }
        #expect(tables == [["1"]])
    }

    @Test func anEngineOlderThanTheDatabaseIsRefusedNamingBothVersions() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let refusal = try await onThread { () -> String? in
            let connection = try PostgresConnection(uri)
            try PostgresMigrator(Self.migrations).migrate(connection)
            do {
                try PostgresMigrator(Array(Self.migrations.prefix(1))).migrate(connection)
                return nil
            } catch let error as MigrationError {
                return error.description
            }
        }
        #expect(refusal?.contains("migration 2") == true && refusal?.contains("(1)") == true, "\(String(describing: refusal))")
    }
}
