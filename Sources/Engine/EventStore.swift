import Foundation

/// What readers of the durable event log need from storage. Events are
/// written by the other stores, each in the transaction of the change it
/// tells of; this seam reads and prunes them. `SQLEventStore` is the
/// implementation, on either database; `EventStoreTests` says what any must do.
protocol EventStore: Sendable {
    /// Events after `seq`, oldest first, at most `limit`.
    func events(after seq: Int64, of connector: ConnectorName?, limit: Int) async throws -> [Event]
    /// The same for a follower (`events.subscribe`), read apart from
    /// requests so that neither waits behind the other. `abandoned` is asked
    /// when the read's turn comes: a follower whose client has gone reads
    /// nothing.
    func eventsForFollower(after seq: Int64, of connector: ConnectorName?, limit: Int, abandoned: @escaping @Sendable () -> Bool) async throws -> [Event]
    /// The newest event's `seq`, pruned or not; 0 before the first event.
    func lastSeq() async throws -> Int64
    /// Drops the events older than `date`; says how many.
    func prune(before date: Date) async throws -> Int
}

/// How long events are kept at least (`protocol.md` §7: 30 days).
enum EventRetention {
    static let period: TimeInterval = 30 * 86_400

    /// The oldest time still kept at `now`.
    static func cutoff(at now: Date) -> Date { now.addingTimeInterval(-period) }
}
