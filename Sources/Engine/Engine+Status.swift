import Foundation
import Synchronization
import Store

public struct DocumentCounts: Codable, Sendable {
    public var queued = 0, sending = 0, retrying = 0, transmitted = 0, failed = 0, ignored = 0, duplicate = 0

    public var pending: Int { queued + sending + retrying }
    public var total: Int { pending + transmitted + failed + ignored + duplicate }
}

public struct StatusSummary: Codable, Sendable {
    public struct Connector: Codable, Sendable {
        public let state: ConnectorState
        /// As in `wizard.state`: why the connector is disconnected.
        public let reason: String?
    }
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
    public let connector: Connector
    public let documents: DocumentCounts
    public let inqom: Inqom
    public let digest: Digest
    public let uptimeSeconds: Int
    public let version: String
    public var timedOut: Bool?
}

public struct DocumentStatus: Codable, Sendable {
    public struct LastError: Codable, Sendable {
        public let reason: DocumentReason
        public let message: String
        public let httpStatus: Int?
    }
    public struct HistoryEntry: Codable, Sendable {
        public let at: String
        public let event: HistoryEvent
        public let detail: String?
    }
    public let documentId: String
    public let dossierId: String
    public let path: String
    public let ruleId: String?
    public let documentType: String?
    public let state: DocumentState
    public let reason: DocumentReason?
    public let attempts: Int
    public let nextAttemptAt: String?
    public let lastError: LastError?
    public let inqomDocumentId: Int64?
    public let archivePath: String?
    public let submittedAt: String
    public let transmittedAt: String?
    public let failedAt: String?
    public var history: [HistoryEntry]?
}

public struct DocumentList: Codable, Sendable {
    public let items: [DocumentStatus]
    public let nextCursor: String?
}

public struct DocumentFilter: Sendable {
    public var dossierID: String?
    public var state: String?
    public var pathPrefix: String?
    public var cursor: String?
    public var limit: Int

    public init(dossierID: String?, state: String?, pathPrefix: String?, cursor: String?, limit: Int) {
        self.dossierID = dossierID
        self.state = state
        self.pathPrefix = pathPrefix
        self.cursor = cursor
        self.limit = limit
    }
}

extension Engine {
    /// Documents per state, kept by triggers.
    static func documentCounts(_ connection: SQLiteConnection) throws -> DocumentCounts {
        var counts = DocumentCounts()
        try connection.query("SELECT state, count FROM document_counts") { row in
            let count = Int(row.int(1))
            switch try row.word(0, as: DocumentState.self) {
            case .queued: counts.queued = count
            case .sending: counts.sending = count
            case .retrying: counts.retrying = count
            case .transmitted: counts.transmitted = count
            case .failed: counts.failed = count
            case .ignored: counts.ignored = count
            case .duplicate: counts.duplicate = count
            }
        }
        return counts
    }

    public func summary() async throws -> StatusSummary {
        let circuit = sender?.isCircuitOpen == true ? "open" : "closed"
        return try await database.read { connection in
            let counts = try Self.documentCounts(connection)
            let connector = try Self.connectorStatus(connection)
            let lastSuccess = try connection.rows(
                "SELECT max(transmitted_at) FROM documents INDEXED BY documents_transmitted WHERE transmitted_at IS NOT NULL"
            ) { $0.isNull(0) ? nil : $0.double(0) }.first ?? nil
            let lastError = try connection.rows(
                """
                SELECT at, detail FROM document_history INDEXED BY document_history_errors
                WHERE event IN (\(HistoryEvent.retryScheduled.sql), \(HistoryEvent.failed.sql)) ORDER BY at DESC, rowid DESC LIMIT 1
                """
            ) { ($0.double(0), $0.optionalText(1)) }.first
            return StatusSummary(
                connector: connector, documents: counts,
                inqom: .init(
                    lastSuccessAt: lastSuccess.map { Self.timestamp(Date(timeIntervalSince1970: $0)) },
                    lastErrorAt: lastError.map { Self.timestamp(Date(timeIntervalSince1970: $0.0)) },
                    lastError: lastError?.1, circuit: circuit),
                digest: try self.digestStatus(connection),
                uptimeSeconds: Int(self.uptime.seconds), version: Self.version)
        }
    }

    public func documentStatus(id: String) async throws -> DocumentStatus {
        try await database.read { connection in
            guard let (found, seq) = try connection.rows(Self.documentSelect + " WHERE id = ?", [.text(id)], {
                (try Self.documentStatus($0), $0.int(15))
            }).first else { throw EngineError.unknownDocument(id: id) }
            var document = found
            document.history = try connection.rows(
                "SELECT at, event, detail FROM document_history WHERE document_seq = ? ORDER BY at, rowid", [.integer(seq)]
            ) { .init(at: Self.timestamp(Date(timeIntervalSince1970: $0.double(0))), event: try $0.word(1), detail: $0.optionalText(2)) }
            return document
        }
    }

    public func documents(_ filter: DocumentFilter) async throws -> DocumentList {
        guard (1...1000).contains(filter.limit) else {
            throw EngineError.invalidParameter(field: "limit", message: "must be from 1 to 1000")
        }
        var conditions = ["seq > ?"]
        var bindings: [SQLValue] = [.integer(Int64(filter.cursor ?? "0") ?? -1)]
        if filter.cursor != nil, Int64(filter.cursor!) == nil {
            throw EngineError.invalidParameter(field: "cursor", message: "not a cursor this engine gave")
        }
        if let dossier = filter.dossierID { conditions.append("dossier_id = ?"); bindings.append(.text(dossier)) }
        if let name = filter.state {
            guard let state = DocumentState(rawValue: name) else {
                throw EngineError.invalidParameter(
                    field: "state", message: "one of " + DocumentState.allCases.map(\.rawValue).joined(separator: ", "))
            }
            conditions.append("state = ?")
            bindings.append(.word(state))
        }
        if let prefix = filter.pathPrefix {
            conditions.append("substr(path, 1, length(?)) = ?")
            bindings += [.text(prefix), .text(prefix)]
        }
        bindings.append(.integer(Int64(filter.limit + 1)))
        let sql = Self.documentSelect + " WHERE " + conditions.joined(separator: " AND ") + " ORDER BY seq LIMIT ?"
        let query = bindings
        let rows = try await database.read { connection in
            try connection.rows(sql, query) { (try Self.documentStatus($0), $0.int(15)) }
        }
        let page = rows.prefix(filter.limit)
        return DocumentList(items: page.map(\.0), nextCursor: rows.count > filter.limit ? page.last.map { String($0.1) } : nil)
    }

    static let documentSelect = """
        SELECT id, dossier_id, path, rule_id, document_type, state, reason, attempts, next_attempt_at, last_error,
            inqom_document_id, archive_path, submitted_at, transmitted_at, failed_at, seq FROM documents
        """

    static func documentStatus(_ row: Row) throws -> DocumentStatus {
        func time(_ column: Int32) -> String? {
            row.isNull(column) ? nil : timestamp(Date(timeIntervalSince1970: row.double(column)))
        }
        let lastError = row.optionalText(9).flatMap { try? JSONDecoder().decode(DocumentStatus.LastError.self, from: Data($0.utf8)) }
        let state = try row.word(5, as: DocumentState.self)
        return DocumentStatus(
            documentId: row.text(0), dossierId: row.text(1), path: row.text(2), ruleId: row.optionalText(3),
            documentType: row.optionalText(4), state: state, reason: try row.optionalWord(6), attempts: Int(row.int(7)),
            nextAttemptAt: state == .retrying || state == .queued ? time(8) : nil, lastError: lastError,
            inqomDocumentId: row.isNull(10) ? nil : row.int(10), archivePath: row.optionalText(11),
            submittedAt: time(12) ?? "", transmittedAt: time(13), failedAt: time(14), history: nil)
    }

    /// Failed documents back to the queue with a fresh attempt budget.
    public func retry(documentIDs: [String]?, dossierID: String?) async throws -> Int {
        let now = now()
        let requeued = try await write { connection in
            var conditions = ["state = ?"]
            var bindings: [SQLValue] = [.word(DocumentState.failed)]
            if let ids = documentIDs {
                conditions.append("id IN (SELECT value FROM json_each(?))")
                bindings.append(.text(String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)))
            }
            if let dossierID { conditions.append("dossier_id = ?"); bindings.append(.text(dossierID)) }
            let selected = try connection.rows("SELECT seq FROM documents WHERE " + conditions.joined(separator: " AND "), bindings) { $0.int(0) }
            for seq in selected { try connection.requeue(seq, at: now, because: .retry, detail: "push.retry") }
            return selected.count
        }
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
            let counts = try await database.read { try Self.documentCounts($0) }
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
        return try await database.read { connection in
            (try connection.events(after: seq, limit: limit),
             try connection.rows("SELECT coalesce(max(seq), 0) FROM events") { $0.int(0) }.first ?? 0)
        }
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
                try await database.readForStream { connection in
                    abandoned.load(ordering: .relaxed) ? [] : try connection.events(after: from, limit: Self.eventBatch)
                }
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
