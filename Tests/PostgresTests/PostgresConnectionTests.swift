import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// libpq through `PostgresConnection`, against a real server of the tests' own.
struct PostgresConnectionTests {
    @Test func aStatementBindsItsParametersAndAnswersItsRows() async throws {
        let uri = try await SharedPostgres.server.value.uri
        let rows = try await onThread {
            let connection = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE dossiers_rows (id text PRIMARY KEY, name text, siret text)")
            try connection.execute("INSERT INTO dossiers_rows VALUES ($1, $2, $3)", ["d1", "Boulangerie l'Épi", nil])
            try connection.execute("INSERT INTO dossiers_rows VALUES ($1, $2, $3)", ["d2", "Café", "73282932000074"])
            return try connection.execute("SELECT id, name, siret FROM dossiers_rows ORDER BY id").rows
        }
        #expect(rows == [["d1", "Boulangerie l'Épi", nil], ["d2", "Café", "73282932000074"]])
    }

    @Test func aRefusedStatementGivesItsSQLStateAndTheConnectionGoesOn() async throws {
        let uri = try await SharedPostgres.server.value.uri
        let (refusal, after) = try await onThread { () -> (PostgresError?, [[String?]]) in
            let connection = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE once_rows (id text PRIMARY KEY)")
            try connection.execute("INSERT INTO once_rows VALUES ($1)", ["a"])
            var refusal: PostgresError?
            do throws(PostgresError) { try connection.execute("INSERT INTO once_rows VALUES ($1)", ["a"]) } catch { refusal = error }
            return (refusal, try connection.execute("SELECT count(*) FROM once_rows").rows)
        }
        guard case .refused(let sqlState, let message)? = refusal else { Issue.record("not refused: \(String(describing: refusal))"); return }
        #expect(sqlState == "23505")
        #expect(message.contains("duplicate key"))
        #expect(after == [["1"]])
    }

    @Test func aTransactionThatThrowsLeavesNothing() async throws {
        let uri = try await SharedPostgres.server.value.uri
        let rows = try await onThread {
            let connection = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE kept_rows (id text PRIMARY KEY)")
            _ = try connection.transaction { () throws(PostgresError) in try connection.execute("INSERT INTO kept_rows VALUES ('kept')") }
            _ = try? connection.transaction { () throws(PostgresError) in
                try connection.execute("INSERT INTO kept_rows VALUES ('undone')")
                try connection.execute("INSERT INTO kept_rows VALUES ('kept')")
            }
            return try connection.execute("SELECT id FROM kept_rows").rows
        }
        #expect(rows == [["kept"]])
    }

    /// Statements run together: in order, and after one fails none of the
    /// rest; its error is thrown, and the connection goes on.
    @Test func statementsRunTogetherInOrderAndStopAtTheFirstRefusal() async throws {
        let uri = try await SharedPostgres.server.value.uri
        let (together, refusal, after) = try await onThread { () -> ([[String?]], PostgresError?, [[String?]]) in
            let connection = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE together_rows (id text PRIMARY KEY, n bigint)")
            try connection.runTogether([
                SQLStatement("INSERT INTO together_rows VALUES (?, ?)", [.text("a"), .integer(1)]),
                SQLStatement("UPDATE together_rows SET n = n + 10 WHERE id = ?", [.text("a")]),
                SQLStatement("INSERT INTO together_rows VALUES (?, ?)", [.text("b"), .integer(2)]),
            ])
            let together = try connection.execute("SELECT id, n FROM together_rows ORDER BY id").rows
            var refusal: PostgresError?
            do {
                try connection.transaction {
                    try connection.runTogether([
                        SQLStatement("INSERT INTO together_rows VALUES (?, ?)", [.text("c"), .integer(3)]),
                        SQLStatement("INSERT INTO together_rows VALUES (?, ?)", [.text("a"), .integer(4)]),
                        SQLStatement("INSERT INTO together_rows VALUES (?, ?)", [.text("d"), .integer(5)]),
                    ])
                }
            } catch let error as PostgresError { refusal = error }
            return (together, refusal, try connection.execute("SELECT id FROM together_rows ORDER BY id").rows)
        }
        #expect(together == [["a", "11"], ["b", "2"]])
        guard case .refused(let sqlState, _)? = refusal else { Issue.record("not refused: \(String(describing: refusal))"); return }
        #expect(sqlState == "23505")
        #expect(after == [["a"], ["b"]])
    }

    /// In a transaction, statements run together wait for what follows: the
    /// transaction's next statement sees them, its commit sends them (one
    /// round trip for both: their refusal is the commit's), its rollback
    /// drops them. Outside one they run at once.
    @Test func statementsRunTogetherInATransactionGoWithWhatFollows() async throws {
        let uri = try await SharedPostgres.server.value.uri
        struct Failed: Error {}
        let (seenInside, seenOutside, seenAtTheEnd, refusedBy) = try await onThread {
            () -> ([[String?]], [[String?]], [[String?]], String) in
            let connection = try PostgresConnection(uri)
            let other = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE waiting_rows (id text PRIMARY KEY)")
            let insert = { (id: String) in SQLStatement("INSERT INTO waiting_rows VALUES (?)", [.text(id)]) }
            let seenInside = try connection.transaction {
                try connection.runTogether([insert("read-after")])
                return try connection.execute("SELECT id FROM waiting_rows").rows
            }
            try connection.runTogether([insert("outside")])
            let seenOutside = try other.execute("SELECT id FROM waiting_rows ORDER BY id").rows
            _ = try? connection.transaction { try connection.runTogether([insert("rolled-back")]); throw Failed() }
            try connection.transaction { try connection.runTogether([insert("committed")]) }
            var refusedBy = "nothing"
            do {
                try connection.transaction {
                    do { try connection.runTogether([insert("outside")]) } catch { refusedBy = "runTogether"; throw error }
                }
            } catch PostgresError.refused(let sqlState, _) where refusedBy == "nothing" { refusedBy = "commit " + sqlState }
            return (seenInside, seenOutside, try other.execute("SELECT id FROM waiting_rows ORDER BY id").rows, refusedBy)
        }
        #expect(refusedBy == "commit 23505")
        #expect(seenInside == [["read-after"]])
        #expect(seenOutside == [["outside"], ["read-after"]])
        #expect(seenAtTheEnd == [["committed"], ["outside"], ["read-after"]])
    }

    /// `bytea` read in binary: every byte value as stored, and nil for no row.
    @Test func bytesAreReadAsStoredWithoutText() async throws {
        let uri = try await SharedPostgres.server.value.uri
        let stored = (0..<3).flatMap { _ in (0...255).map { UInt8($0) } }
        let (read, missing) = try await onThread { () -> ([UInt8]?, Bool) in
            let connection = try PostgresConnection(uri)
            try connection.execute("CREATE TABLE byte_rows (id integer PRIMARY KEY, bytes bytea)")
            try connection.run("INSERT INTO byte_rows VALUES (?, ?)", [.integer(1), .blob(stored)])
            let read = try connection.withFirstBytes("SELECT bytes FROM byte_rows WHERE id = ?", [.integer(1)]) { $0.map { Array($0) } }
            let missing = try connection.withFirstBytes("SELECT bytes FROM byte_rows WHERE id = ?", [.integer(2)]) { $0 == nil }
            return (read, missing)
        }
        #expect(read == stored)
        #expect(missing)
    }

    @Test func aWrongPasswordIsRefusedWithoutItInTheDetail() async throws {
        let server = try await SharedPostgres.server.value
        let canary = "canary-\(UUID().uuidString)"
        let uri = "postgresql://\(server.user):\(canary)@127.0.0.1:\(server.port)/postgres"
        let refusal = await #expect(throws: PostgresError.self) { try await onThread { _ = try PostgresConnection(uri) } }
        guard case .unreachable(let detail)? = refusal else { Issue.record("not unreachable: \(String(describing: refusal))"); return }
        #expect(detail.contains("password authentication failed"))
        #expect(!detail.contains(canary))
    }

    @Test func aStoppedServerMakesTheConnectionUnreachable() async throws {
        let server = try await PostgresServer.start()
        let uri = server.uri
        let (failure, open, reconnect) = try await onThread { () -> (PostgresError?, Bool, PostgresError?) in
            let connection = try PostgresConnection(uri)
            try connection.execute("SELECT 1")
            server.stop()
            var failure: PostgresError?
            do throws(PostgresError) { try connection.execute("SELECT 1") } catch { failure = error }
            var reconnect: PostgresError?
            do throws(PostgresError) { _ = try PostgresConnection(uri) } catch { reconnect = error }
            return (failure, connection.isOpen, reconnect)
        }
        guard case .unreachable? = failure else { Issue.record("not unreachable: \(String(describing: failure))"); return }
        #expect(!open)
        guard case .unreachable(let detail)? = reconnect else { Issue.record("connected: \(String(describing: reconnect))"); return }
        #expect(!detail.contains(server.password))
    }
}
