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

/// `status.engine`: the engine as a whole, over every connector.
public struct EngineStatus: Codable, Sendable {
    public struct Connectors: Codable, Sendable {
        public let total: Int
        public let byState: [String: Int]
    }
    public struct Inqom: Codable, Sendable {
        public let circuit: String
        public let lastSuccessAt: String?
        public let lastErrorAt: String?
    }
    public struct Store: Codable, Sendable {
        /// "sqlite" or "postgres".
        public let kind: String
        public let reachable: Bool
        /// Why it cannot be read, never with a password; nil when it can.
        public let detail: String?
    }
    public let documents: DocumentCounts
    public let connectors: Connectors
    public let inqom: Inqom
    public let uptimeSeconds: Int
    public let version: String
    public let store: Store
    public let node: String
}

/// A page of `connectors.list`.
public struct ConnectorPage: Codable, Sendable {
    public let items: [ConnectorEntry]
    public let nextCursor: String?
}

extension Engine {
    /// Every connector's documents and states, summed; answered even when the store cannot be read.
    public func engineStatus() async -> EngineStatus {
        let circuit = sender?.isCircuitOpen == true ? "open" : "closed"
        let read: (totals: (documents: DocumentCounts, connectors: [ConnectorState: Int]), activity: InqomActivity)?
        let unreadable: String?
        do {
            (read, unreadable) = ((try await directory.totals(), try await directory.lastActivity()), nil)
        } catch {
            logger.error("reading the engine's status failed", metadata: ["error": "\(error)"])
            (read, unreadable) = (nil, (error as? EngineError).flatMap(\.storageDetail) ?? "\(error)")
        }
        let byState = Dictionary(
            uniqueKeysWithValues: ConnectorState.allCases.map { ($0.rawValue, read?.0.connectors[$0] ?? 0) })
        return EngineStatus(
            documents: read?.0.documents ?? DocumentCounts(),
            connectors: .init(total: byState.values.reduce(0, +), byState: byState),
            inqom: .init(
                circuit: circuit, lastSuccessAt: read?.1.lastSuccessAt.map(Timestamp.text),
                lastErrorAt: read?.1.lastError.map { Timestamp.text($0.at) }),
            uptimeSeconds: Int(uptime.seconds), version: Self.version,
            store: .init(kind: database == nil ? "postgres" : "sqlite", reachable: read != nil, detail: unreadable),
            node: node)
    }

    /// `connectors.remove`: every trace of a firm (catalog, credentials,
    /// documents and their bytes, collaborators, events), then
    /// `connector.removed`.
    public func removeConnector(_ text: String) async throws {
        let name = try connectorName(text) ?? .default
        guard let spooled = try await directory.remove(name, at: clock.now) else {
            throw EngineError.unknownConnector(name: name.rawValue)
        }
        connectors.forget(name)
        await sessions.forget(name)
        let spool = spool
        await blocking.run { for file in spooled { spool.release(file) } }
        changes.notify()
        logger.info("connector removed", metadata: ["connector": "\(name)", "documentFiles": "\(spooled.count)"])
    }

    /// Connectors by name, after `cursor`, of one state or all.
    public func listConnectors(state: String?, cursor: String?, limit: Int) async throws -> ConnectorPage {
        try ListParameters.checkLimit(limit)
        let wanted: ConnectorState? = try ListParameters.word(state, field: "state")
        let items = try await directory.list(state: wanted, after: cursor, limit: limit + 1)
        let page = Array(items.prefix(limit))
        return ConnectorPage(items: page, nextCursor: items.count > limit ? page.last?.connector : nil)
    }

    /// `status.summary` of one connector, with the engine's circuit and digest schedule.
    public func summary(of firm: Connector) async throws -> StatusSummary {
        let circuit = sender?.isCircuitOpen == true ? "open" : "closed"
        let counts = try await firm.documents.counts()
        let activity = try await firm.documents.lastActivity()
        let connector = try await firm.setup.status()
        return StatusSummary(
            connector: connector, documents: counts,
            inqom: .init(
                lastSuccessAt: activity.lastSuccessAt.map(Timestamp.text),
                lastErrorAt: activity.lastError.map { Timestamp.text($0.at) },
                lastError: activity.lastError?.message, circuit: circuit),
            digest: try await firm.digest.status(), uptimeSeconds: Int(uptime.seconds), version: Self.version)
    }

    /// Waits until no document is queued, sending or retrying, or the
    /// timeout passes, or the engine stops (then `timedOut` when documents
    /// are still pending); `progress` sees the counts at most ten times a second.
    public func drain(_ firm: Connector, timeout: Duration, progress: (@Sendable (DocumentCounts) -> Void)?) async throws
        -> StatusSummary
    {
        let deadline = clock.elapsed + timeout
        var lastReport = clock.elapsed - .seconds(1)
        while true {
            let seen = changes.generation
            let checked = clock.elapsed
            let counts = try await firm.documents.counts()
            if counts.pending == 0 || checked >= deadline || isStopping {
                var summary = try await summary(of: firm)
                if counts.pending > 0 { summary.timedOut = true }
                return summary
            }
            if let progress, checked - lastReport >= .milliseconds(100) {
                progress(counts)
                lastReport = checked
            }
            try Task.checkCancellation()
            await changes.wait(after: seen, until: min(checked + .milliseconds(250), deadline), on: clock)
            // Documents change every millisecond under load: look at most every 10 ms.
            try await clock.sleep(until: min(checked + Self.drainCheckInterval, deadline))
        }
    }

    static let drainCheckInterval = Duration.milliseconds(10)
}
