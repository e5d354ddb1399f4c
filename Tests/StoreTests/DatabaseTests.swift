import Foundation
import Glibc
import TestSupport
import Testing

@testable import Store

struct DatabaseTests {
    private let migrations = [
        Migration(1, "people", sql: "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
        Migration(2, "people.email", sql: "ALTER TABLE people ADD COLUMN email TEXT"),
    ]

    private func databasePath() -> String {
        TemporaryDirectory.make(prefix: "pushdoc-db") + "/test.sqlite"
    }

    @Test func appliesMigrationsOnceInOrderAndRecordsThem() async throws {
        let path = databasePath()
        let first = try Database(path: path, migrations: Array(migrations.prefix(1)))
        try await first.write { try $0.run("INSERT INTO people (name) VALUES (?)", [.text("Zoé")]) }
        // Reopened with one more migration: only the new one runs, data kept.
        let second = try Database(path: path, migrations: migrations)
        let applied = try await second.read { try $0.rows("SELECT number, name FROM schema_migrations ORDER BY number") { "\($0.int(0)):\($0.text(1))" } }
        #expect(applied == ["1:people", "2:people.email"])
        let names = try await second.read { try $0.rows("SELECT name, email FROM people") { $0.text(0) + "/" + ($0.optionalText(1) ?? "-") } }
        #expect(names == ["Zoé/-"])
    }

    @Test func usesWALWithFullSynchronousCommits() async throws {
        let database = try Database(path: databasePath(), migrations: migrations)
        let journal = try await database.write { try $0.rows("PRAGMA journal_mode") { $0.text(0) } }
        let synchronous = try await database.write { try $0.rows("PRAGMA synchronous") { $0.int(0) } }
        #expect(journal == ["wal"])
        #expect(synchronous == [2])  // FULL
    }

    @Test func refusesADatabaseFromANewerEngine() throws {
        let path = databasePath()
        _ = try Database(path: path, migrations: migrations)
        #expect(throws: MigrationError.self) { try Database(path: path, migrations: Array(migrations.prefix(1))) }
    }

    @Test func aFailedTransactionLeavesNothingBehind() async throws {
        let database = try Database(path: databasePath(), migrations: migrations)
        await #expect(throws: SQLiteError.self) {
            try await database.write { connection in
                try connection.run("INSERT INTO people (name) VALUES ('kept?')")
                try connection.run("INSERT INTO people (name) VALUES (NULL)")
            }
        }
        let count = try await database.read { try $0.rows("SELECT count(*) FROM people") { $0.int(0) } }
        #expect(count == [0])
    }

    @Test func detectsACorruptedFileAtOpen() async throws {
        let path = databasePath()
        do {
            let database = try Database(path: path, migrations: migrations)
            try await database.write { connection in
                for index in 0..<2000 { try connection.run("INSERT INTO people (name) VALUES (?)", [.text("person \(index) " + String(repeating: "x", count: 100))]) }
            }
        }
        // Closing checkpointed the WAL into the file; scribble over its middle.
        try scribbleOverTheMiddle(of: path)
        expectRefusedAsCorrupted(path, migrations: migrations)
    }

    @Test func readsSeeCommittedWritesAndStorageFailuresAreRecognised() async throws {
        let database = try Database(path: databasePath(), migrations: migrations)
        try await database.write { try $0.execute("PRAGMA max_page_count = 3") }
        do {
            try await database.write { connection in
                for _ in 0..<200 { try connection.run("INSERT INTO people (name) VALUES (?)", [.text(String(repeating: "y", count: 500))]) }
            }
            Issue.record("a full database accepted the write")
        } catch let error as SQLiteError {
            #expect(error.isStorageFailure)
        }
    }
}

/// Same size, other bytes: two pages in the middle of the file written over.
func scribbleOverTheMiddle(of path: String) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    try handle.seek(toOffset: 8192)
    try handle.write(contentsOf: Data(repeating: 0xA5, count: 8192))
    try handle.close()
}

func expectRefusedAsCorrupted(_ path: String, migrations: [Migration]) {
    #expect {
        try Database(path: path, migrations: migrations)
    } throws: { error in
        (error as? SQLiteError)?.isCorruption == true
    }
}
