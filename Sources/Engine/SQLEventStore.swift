import Foundation
import Store

/// `EventStore` on the engine's database, SQLite or PostgreSQL.
struct SQLEventStore: EventStore {
    let storage: any StoreAccess

    func events(after seq: Int64, of connector: ConnectorName?, limit: Int) async throws -> [Event] {
        try await storage.read { try $0.events(after: seq, of: connector, limit: limit) }
    }

    func eventsForFollower(
        after seq: Int64, of connector: ConnectorName?, limit: Int, abandoned: @escaping @Sendable () -> Bool
    ) async throws -> [Event] {
        try await storage.readForStream { abandoned() ? [] : try $0.events(after: seq, of: connector, limit: limit) }
    }

    func lastSeq() async throws -> Int64 {
        try await storage.read { connection in
            // Once every event has been pruned, the sequence still says where the log stands.
            try connection.rows(
                connection.dialect == .sqlite
                    ? "SELECT coalesce((SELECT max(seq) FROM events), (SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"
                    : "SELECT last FROM event_seq"
            ) { try $0.int(0) }.first ?? 0
        }
    }

    func prune(before date: Date) async throws -> Int {
        try await storage.write { connection in
            try connection.run("DELETE FROM events WHERE at < ?", [.real(date.timeIntervalSince1970)])
        }
    }
}
