import Foundation
import Postgres
import TestSupport
import Testing

/// The listener's second duty: holding its engine's presence on the database.
struct PostgresListenerTests {
    /// Two engines under one node name would each take the other's leases
    /// for their own: the second is refused once its wait runs out. An
    /// engine started again while the server still ends its killed
    /// predecessor's session waits for it, and starts.
    @Test func aNodeNameIsHeldByOneEngineAtATime() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let first = try await onThread { try PostgresListener(uri: uri, node: "engine-a") {} }
        await #expect(throws: NodeInUse.self) {
            _ = try await onThread { try PostgresListener(uri: uri, node: "engine-a", presenceWaitMilliseconds: 200) {} }
        }
        let other = try await onThread { try PostgresListener(uri: uri, node: "engine-b", presenceWaitMilliseconds: 200) {} }
        other.stop()
        #expect(try await Self.holders(of: "engine-a", uri: uri) == 1)

        async let restarted = onThread { try PostgresListener(uri: uri, node: "engine-a", presenceWaitMilliseconds: 30_000) {} }
        // The restarted engine waits on the lock before its predecessor's session ends.
        try await Self.waitUntilWaiting(for: "engine-a", uri: uri)
        first.stop()
        try await SharedPostgres.endPresence(of: "engine-a", uri: uri)
        try await restarted.stop()
    }

    /// Its session ended under it (a database restart, a cut connection),
    /// the listener connects again, holds the presence again, and then
    /// wakes its engine for what it may have missed.
    @Test func theListenerTakesItsPresenceBackWhenItConnectsAgain() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let (wakes, woken) = AsyncStream<Void>.makeStream()
        let listener = try await onThread { try PostgresListener(uri: uri, node: "engine-a") { woken.yield() } }
        defer { listener.stop() }
        try await SharedPostgres.endPresence(of: "engine-a", uri: uri)
        var wakesLeft = wakes.makeAsyncIterator()
        _ = await wakesLeft.next()
        #expect(try await Self.holders(of: "engine-a", uri: uri) == 1)
    }

    private static func holders(of node: String, uri: String) async throws -> Int {
        try await onThread {
            let rows = try PostgresConnection(uri).execute("SELECT count(*) FROM (\(PostgresListener.presenceHolder("$1"))) holder", [node])
            return Int(rows.rows.first?.first.flatMap { $0 } ?? "") ?? -1
        }
    }

    /// Until a session of the database waits for an advisory lock (asked every 10 ms: the server tells of no such wait).
    private static func waitUntilWaiting(for node: String, uri: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let waiting = try await onThread {
                try PostgresConnection(uri).execute(
                    """
                    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """
                ).rows.first?.first ?? nil
            }
            if waiting == "1" { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no session waited for \(node)'s presence")
    }
}
