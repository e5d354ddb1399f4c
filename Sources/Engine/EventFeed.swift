import Foundation
import Logging
import Synchronization

/// The durable event log as clients read it (`events.list`) and follow it
/// (`events.subscribe`), and its retention.
public struct EventFeed: Sendable {
    let store: any EventStore
    let clock: any EngineClock
    let changes: ChangeSignal
    let logger: Logger

    public func list(after seq: Int64, of connector: ConnectorName? = nil, limit: Int) async throws -> (events: [Event], lastSeq: Int64) {
        try ListParameters.checkLimit(limit)
        return (try await store.events(after: seq, of: connector, limit: limit), try await store.lastSeq())
    }

    /// Streams events after `seq` to `deliver`, in order, then the new ones
    /// as they are committed, until the task is cancelled. `deliver` may wait
    /// (a subscriber not reading): the log is durable, the stream resumes
    /// where it stopped.
    public func follow(after seq: Int64, of connector: ConnectorName? = nil, deliver: @Sendable ([Event]) async -> Void) async {
        var last = seq
        while !Task.isCancelled {
            let seen = changes.generation
            let from = last
            let looked = clock.elapsed
            // A stream whose client has gone skips its query if it is still queued behind others'.
            let abandoned = Atomic<Bool>(false)
            let read = try? await withTaskCancellationHandler {
                try await store.eventsForFollower(after: from, of: connector, limit: Self.eventBatch) { abandoned.load(ordering: .relaxed) }
            } onCancel: {
                abandoned.store(true, ordering: .relaxed)
            }
            guard let batch = read, !Task.isCancelled else { return }
            if let newest = batch.last {
                await deliver(batch)
                last = newest.seq
                if batch.count == Self.eventBatch { continue }
            } else {
                await changes.wait(after: seen, timeout: .seconds(1), on: clock)
            }
            // Under a steady flow events come every millisecond: they leave in
            // batches, one look at the log per `followInterval` at most, so
            // that a follower does not cost a wake-up per document sent.
            try? await clock.sleep(until: looked + Self.followInterval)
        }
    }

    private static let eventBatch = 500
    static let followInterval = Duration.milliseconds(5)

    /// Drops events past their 30 days.
    func prune() async throws {
        _ = try await store.prune(before: EventRetention.cutoff(at: clock.now))
    }

    /// Prunes every hour until cancelled.
    func runRetention() async {
        while (try? await clock.sleep(for: .seconds(3600))) != nil {
            _ = await logger.failureLogged("pruning old events") { try await prune() }
        }
    }
}
