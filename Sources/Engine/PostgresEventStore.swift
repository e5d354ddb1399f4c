import Foundation
import Postgres

/// `EventStore` on the deployment's PostgreSQL database: every engine's
/// events in one seq order.
struct PostgresEventStore: EventStore {
    let access: PostgresAccess

    func events(after seq: Int64, of connector: ConnectorName?, limit: Int) async throws -> [Event] {
        try await access.transaction { try $0.events(after: seq, of: connector, limit: limit) }
    }

    func eventsForFollower(
        after seq: Int64, of connector: ConnectorName?, limit: Int, abandoned: @escaping @Sendable () -> Bool
    ) async throws -> [Event] {
        try await access.transaction { abandoned() ? [] : try $0.events(after: seq, of: connector, limit: limit) }
    }

    func lastSeq() async throws -> Int64 {
        try await access.transaction { try $0.execute("SELECT last FROM event_seq").map { try $0.int(0) }.first ?? 0 }
    }

    func prune(before date: Date) async throws -> Int {
        try await access.transaction { connection in
            try connection.execute("WITH gone AS (DELETE FROM events WHERE at < $1 RETURNING 1) SELECT count(*) FROM gone", [date.pg])
                .map { Int(try $0.int(0)) }.first ?? 0
        }
    }
}
