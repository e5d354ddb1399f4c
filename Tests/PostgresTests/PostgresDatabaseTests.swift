import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// The engine's pool of connections, against a real server of the tests' own.
struct PostgresDatabaseTests {
    /// A database released (a test's store, an engine stopping) leaves no
    /// connection open on the server.
    @Test func aReleasedDatabaseClosesItsConnections() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let name = try #require(uri.split(separator: "/").last.map(String.init))
        let server = try await SharedPostgres.server.value
        func sessions() async throws -> String? {
            try await onThread {
                try PostgresConnection(server.uri).execute("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", [name]).rows.first?.first ?? nil
            }
        }
        var database: PostgresDatabase? = try await onThread { try PostgresDatabase(uri: uri, connections: 2, migrations: []) }
        // Two calls at once: each of the two threads opens its connection.
        do {
            let pool = try #require(database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask { try await pool.transaction { connection in _ = try connection.execute("SELECT pg_sleep(0.2)") } }
                }
                try await group.waitForAll()
            }
        }
        #expect(try await sessions() == "2")

        database = nil
        // The server ends a session once its client closed it: asked until then.
        let deadline = ContinuousClock.now + .seconds(10)
        while try await sessions() != "0", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await sessions() == "0")
    }
}
