import Foundation
import Synchronization

public struct StatusSummary: Codable, Sendable {
    public struct Inqom: Codable, Sendable {
        public let lastSuccessAt: String?
        public let lastErrorAt: String?
        public let lastError: String?
        public let circuit: String
    }
    public struct Digest: Codable, Sendable {
        public let lastRunAt: String?
        public let nextRunAt: String
    }
    public let connector: ConnectorStatus
    public let documents: DocumentCounts
    public let inqom: Inqom
    public let digest: Digest
    public let uptimeSeconds: Int
    public let version: String
    public var timedOut: Bool?
}

extension Engine {
    public func summary() async throws -> StatusSummary {
        let circuit = sender?.isCircuitOpen == true ? "open" : "closed"
        let counts = try await documentStore.counts()
        let activity = try await documentStore.lastActivity()
        let connector = try await connectorStore.status()
        return StatusSummary(
            connector: connector, documents: counts,
            inqom: .init(
                lastSuccessAt: activity.lastSuccessAt.map(Self.timestamp),
                lastErrorAt: activity.lastError.map { Self.timestamp($0.at) },
                lastError: activity.lastError?.message, circuit: circuit),
            digest: try await digestStatus(), uptimeSeconds: Int(uptime.seconds), version: Self.version)
    }

    public func documentStatus(id: String) async throws -> DocumentStatus {
        guard let document = try await documentStore.document(id: id) else { throw EngineError.unknownDocument(id: id) }
        return document
    }

    public func documents(_ filter: DocumentFilter) async throws -> DocumentList {
        guard (1...1000).contains(filter.limit) else {
            throw EngineError.invalidParameter(field: "limit", message: "must be from 1 to 1000")
        }
        var after: Int64 = 0
        if let cursor = filter.cursor {
            guard let seq = Int64(cursor) else {
                throw EngineError.invalidParameter(field: "cursor", message: "not a cursor this engine gave")
            }
            after = seq
        }
        var query = DocumentQuery(dossierID: filter.dossierID, pathPrefix: filter.pathPrefix)
        if let name = filter.state {
            guard let state = DocumentState(rawValue: name) else {
                throw EngineError.invalidParameter(
                    field: "state", message: "one of " + DocumentState.allCases.map(\.rawValue).joined(separator: ", "))
            }
            query.state = state
        }
        let page = try await documentStore.page(query, after: after, limit: filter.limit)
        return DocumentList(items: page.items, nextCursor: page.next.map(String.init))
    }

    /// Failed documents back to the queue with a fresh attempt budget.
    public func retry(documentIDs: [String]?, dossierID: String?) async throws -> Int {
        let requeued = try await documentStore.requeueFailed(documentIDs: documentIDs, dossierID: dossierID, at: now())
        changes.notify()
        return requeued
    }

    /// Waits until no document is queued, sending or retrying, or the
    /// timeout passes, or the engine stops (then `timedOut` when documents
    /// are still pending); `progress` sees the counts at most ten times a second.
    public func drain(timeout: Duration, progress: (@Sendable (DocumentCounts) -> Void)?) async throws -> StatusSummary {
        let deadline = clock.elapsed + timeout
        var lastReport = clock.elapsed - .seconds(1)
        while true {
            let seen = changes.generation
            let checked = clock.elapsed
            let counts = try await documentStore.counts()
            if counts.pending == 0 || checked >= deadline || isStopping {
                var summary = try await summary()
                if counts.pending > 0 { summary.timedOut = true }
                return summary
            }
            if let progress, checked - lastReport >= .milliseconds(100) {
                progress(counts)
                lastReport = checked
            }
            try Task.checkCancellation()
            await changes.wait(after: seen, timeout: min(.milliseconds(250), deadline - clock.elapsed), on: clock)
            // Documents change every millisecond under load: look at most every 10 ms.
            let nextLook = min(checked + Self.drainCheckInterval, deadline) - clock.elapsed
            if nextLook > .zero { try await clock.sleep(for: nextLook) }
        }
    }

    static let drainCheckInterval = Duration.milliseconds(10)

    public func events(after seq: Int64, limit: Int) async throws -> (events: [Event], lastSeq: Int64) {
        guard (1...1000).contains(limit) else {
            throw EngineError.invalidParameter(field: "limit", message: "must be from 1 to 1000")
        }
        return (try await eventStore.events(after: seq, limit: limit), try await eventStore.lastSeq())
    }

    /// Streams events after `seq` to `deliver`, in order, then the new ones
    /// as they are committed, until the task is cancelled. `deliver` may wait
    /// (a subscriber not reading): the log is durable, the stream resumes
    /// where it stopped.
    public func followEvents(after seq: Int64, deliver: @Sendable ([Event]) async -> Void) async {
        var last = seq
        while !Task.isCancelled {
            let seen = changes.generation
            let from = last
            let looked = clock.elapsed
            // A stream whose client has gone skips its query if it is still queued behind others'.
            let abandoned = Atomic<Bool>(false)
            let read = try? await withTaskCancellationHandler {
                try await eventStore.eventsForFollower(after: from, limit: Self.eventBatch) { abandoned.load(ordering: .relaxed) }
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
            let untilNext = looked + Self.followInterval - clock.elapsed
            if untilNext > .zero { try? await clock.sleep(for: untilNext) }
        }
    }

    private static let eventBatch = 500
    static let followInterval = Duration.milliseconds(5)
}
