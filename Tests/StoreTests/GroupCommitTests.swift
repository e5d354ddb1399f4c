import Foundation
import TestSupport
import Testing

@testable import Store

struct GroupCommitTests {
    private func database() throws -> Database {
        try Database(
            path: TemporaryDirectory.make(prefix: "pushdoc-group") + "/test.sqlite",
            migrations: [Migration(1, "items", sql: "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")])
    }

    @Test func concurrentWritesSucceedOrFailEachAlone() async throws {
        let database = try database()
        // 400 writers at once, one in ten inserting a name already taken.
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<400 {
                group.addTask {
                    let name = index % 10 == 9 ? "taken" : "item-\(index)"
                    do {
                        try await database.write { connection in
                            try connection.run("INSERT INTO items (name) VALUES (?)", [.text(name)])
                            if index % 10 == 9 { try connection.run("INSERT INTO items (name) VALUES ('taken')") }
                        }
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        let stored = Set(try await database.read { try $0.rows("SELECT name FROM items") { $0.text(0) } })
        // A "taken" writer inserts the name twice and fails: its first insert goes too, nobody else's.
        #expect(outcomes.values.filter { !$0 }.count == 40)
        #expect(stored == Set((0..<400).filter { $0 % 10 != 9 }.map { "item-\($0)" }))
    }

    @Test func aWriteSeesTheWritesBeforeItInItsGroup() async throws {
        let database = try database()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await database.write { connection in
                        let before = try connection.rows("SELECT count(*) FROM items") { $0.int(0) }.first ?? 0
                        try connection.run("INSERT INTO items (id, name) VALUES (?, ?)", [.integer(before + 1), .text("n\(index)")])
                    }
                }
            }
            try await group.waitForAll()
        }
        // Each body counted the ones committed or released before it: ids 1...200, no gap, no clash.
        let ids = try await database.read { try $0.rows("SELECT id FROM items ORDER BY id") { $0.int(0) } }
        #expect(ids == Array(1...200))
    }
}

struct GroupCommitFailureTests {
    @Test func whenTheDatabaseIsFullEveryWriteSaidDoneIsThereAndNoOtherIs() async throws {
        let database = try Database(
            path: TemporaryDirectory.make(prefix: "pushdoc-full") + "/test.sqlite",
            migrations: [Migration(1, "blobs", sql: "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")])
        // A database that may not grow past 64 pages: SQLite answers SQLITE_FULL, as on a full disk.
        try await database.write { _ = try $0.rows("PRAGMA max_page_count = 64") { $0.int(0) } }
        let outcomes = await withTaskGroup(of: (Int64, Bool).self) { group in
            for id in Int64(1)...300 {
                group.addTask {
                    do {
                        try await database.write { try $0.run("INSERT INTO blobs (id, data) VALUES (?, ?)", [.integer(id), .blob(Array(repeating: 1, count: 3000))]) }
                        return (id, true)
                    } catch {
                        return (id, false)
                    }
                }
            }
            return await group.reduce(into: [Int64: Bool]()) { $0[$1.0] = $1.1 }
        }
        let stored = Set(try await database.read { try $0.rows("SELECT id FROM blobs") { $0.int(0) } })
        let acknowledged = Set(outcomes.filter(\.value).map(\.key))
        #expect(acknowledged.count > 0 && acknowledged.count < 300, "\(acknowledged.count) writes succeeded")
        #expect(stored == acknowledged)
        // And the writer still works once there is room.
        try await database.write { try $0.run("DELETE FROM blobs") }
        try await database.write { try $0.run("INSERT INTO blobs (id, data) VALUES (1000, x'00')") }
        #expect(try await database.read { try $0.rows("SELECT count(*) FROM blobs") { $0.int(0) } } == [1])
    }
}
