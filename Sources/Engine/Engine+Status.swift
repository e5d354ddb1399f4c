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
        let counts = try await documents.counts()
        let activity = try await documents.lastActivity()
        let connector = try await setup.status()
        return StatusSummary(
            connector: connector, documents: counts,
            inqom: .init(
                lastSuccessAt: activity.lastSuccessAt.map(Timestamp.text),
                lastErrorAt: activity.lastError.map { Timestamp.text($0.at) },
                lastError: activity.lastError?.message, circuit: circuit),
            digest: try await digest.status(), uptimeSeconds: Int(uptime.seconds), version: Self.version)
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
            let counts = try await documents.counts()
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
}
