import Foundation
import Synchronization
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

    /// A sender waits on its own thread for its outcome's commit before its
    /// next upload: its body goes ahead of a burst of pipelined submissions
    /// queued before it, into the next group.
    @Test(.timeLimit(.minutes(1))) func aBlockingWriterIsNotQueuedBehindABurstOfAsyncWrites() async throws {
        let path = TemporaryDirectory.make(prefix: "pushdoc-group") + "/test.sqlite"
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute("PRAGMA journal_mode = WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        let writer = GroupCommitWriter(connection, label: "test.writer")
        let insert = { @Sendable (name: String) in
            { @Sendable (connection: SQLiteConnection) throws in try connection.run("INSERT INTO items (name) VALUES (?)", [.text(name)]) }
        }
        // The writer busy with a first body while the others queue.
        let holding = DispatchSemaphore(value: 0)
        let started = Atomic(false)
        let first = Task {
            try await writer.write { _ in
                started.store(true, ordering: .releasing)
                holding.wait()
            }
        }
        while !started.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        let burst = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<100 { group.addTask { _ = try? await writer.write(insert("async-\(index)")) } }
            }
        }
        while writer.pendingCount < 100 { try await Task.sleep(for: .milliseconds(1)) }
        let blockingDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? writer.writeBlocking(insert("blocking"))
            blockingDone.signal()
        }
        while writer.pendingCount < 101 { try await Task.sleep(for: .milliseconds(1)) }
        holding.signal()
        try await first.value
        await burst.value
        await withCheckedContinuation { done in DispatchQueue.global().async { blockingDone.wait(); done.resume() } }
        let reading = try SQLiteConnection(path: path, readOnly: true)
        let order = try reading.rows("SELECT name FROM items ORDER BY id") { $0.text(0) }
        #expect(order.count == 101)
        #expect(order.first == "blocking")
    }

    /// Threads that may block write through `writeBlocking` while tasks write
    /// through `write`, in the same groups: each write succeeds or fails
    /// alone, and each caller gets the answer of its own body.
    @Test(.timeLimit(.minutes(1))) func blockingAndAsyncWritersShareGroupsAndEachGetsItsOwnAnswer() async throws {
        let database = try database()
        final class Answers: Sendable {
            let byName = Mutex<[String: Int64?]>([:])
        }
        let answers = Answers()
        let name = { @Sendable (index: Int) in index % 10 == 9 ? "taken" : "item-\(index)" }
        let body = { @Sendable (written: String) in
            { @Sendable (connection: SQLiteConnection) throws -> Int64 in
                try connection.run("INSERT INTO items (name) VALUES (?)", [.text(written)])
                // A second insert of a colliding name: the body fails after writing.
                if written.hasSuffix("taken") { try connection.run("INSERT INTO items (name) VALUES (?)", [.text(written)]) }
                return connection.lastInsertRowID
            }
        }
        let threads = DispatchGroup()
        for thread in 0..<8 {
            DispatchQueue.global().async(group: threads) {
                for index in stride(from: thread, to: 400, by: 8) {
                    let written = "thread-" + name(index)
                    let id = try? database.writeBlocking(body(written))
                    answers.byName.withLock { $0[written] = id }
                }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<400 {
                group.addTask {
                    let written = "task-" + name(index)
                    let id = try? await database.write(body(written))
                    answers.byName.withLock { $0[written] = id }
                }
            }
        }
        await withCheckedContinuation { done in threads.notify(queue: .global()) { done.resume() } }
        let stored = Dictionary(
            uniqueKeysWithValues: try await database.read { try $0.rows("SELECT name, id FROM items") { ($0.text(0), $0.int(1)) } })
        let succeeded = answers.byName.withLock { $0.compactMapValues { $0 } }
        // 40 names each way collide with themselves and fail alone; every other write is there, under the id it was told.
        #expect(succeeded.count == 720)
        #expect(stored == succeeded)
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
