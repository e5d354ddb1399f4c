import Engine
import Foundation
import JSONRPC
import Synchronization

/// Binds push, status and events methods to the engine.
extension PushdocMethods {
    static func registerPush(_ table: inout MethodTable, engine: Engine) {
        register(&table, Submit.self, of: engine) { params, firm, _ in try await firm.intake.submit(try submission(params)) }
        register(&table, Retry.self, of: engine) { params, firm, _ in
            guard params.documentIds != nil || params.all == true || params.dossierId != nil else {
                throw ResponseError.invalidParams(field: "documentIds", "give documentIds, all: true, or a dossierId")
            }
            return .init(requeued: try await firm.documents.retry(documentIDs: params.documentIds, dossierID: params.dossierId))
        }
        register(&table, Drain.self, of: engine) { params, firm, context in
            let timeout = params.timeoutMs ?? 30_000
            guard (0...3_600_000).contains(timeout) else {
                throw ResponseError.invalidParams(field: "timeoutMs", "must be from 0 to 3600000")
            }
            if let token = params.progressToken,
                token.kind != .string && (token.kind != .number || token.bytes.contains { ".eE".utf8.contains($0) })
            {
                throw ResponseError.invalidParams(field: "progressToken", "must be a string or an integer")
            }
            let progress = params.progressToken.map { progressReporter(token: $0, connection: context.connection) }
            // A notification's answer is read by nobody: it must not wait.
            return try await engine.drain(firm, timeout: .milliseconds(context.id == nil ? 0 : timeout), progress: progress)
        }
        register(&table, Summary.self, of: engine) { _, firm, _ in try await engine.summary(of: firm) }
        table.register(ForEngine<EngineStatusMethod>.self) { _, _ in await engine.engineStatus() }
        table.register(ForEngine<ListConnectors>.self) { unscoped, _ in
            let params = unscoped.params
            return try await engine.listConnectors(state: params.state, cursor: params.cursor, limit: params.limit ?? 100)
        }
        table.register(RemoveConnector.self) { params, _ in
            guard params.confirm == true else { throw ResponseError.invalidParams(field: "confirm", "must be true") }
            try await engine.removeConnector(params.connector)
            return .init(removed: true)
        }
        register(&table, DocumentStatusMethod.self, of: engine) { params, firm, _ in try await firm.documents.status(id: params.documentId) }
        register(&table, Documents.self, of: engine) { params, firm, _ in
            try await firm.documents.list(
                .init(dossierID: params.dossierId, state: params.state, pathPrefix: params.pathPrefix, cursor: params.cursor,
                      limit: params.limit ?? 100))
        }
        // Without a connector, every connector's events.
        table.register(ForConnector<ListEvents>.self) { scoped, _ in
            let params = scoped.params
            let connector = try engine.connectorName(scoped.connector)
            let (events, lastSeq) = try await engine.events.list(after: params.after ?? 0, of: connector, limit: params.limit ?? 100)
            return .init(events: events, lastSeq: lastSeq)
        }
        let subscriptions = Subscriptions()
        table.register(ForConnector<Subscribe>.self) { scoped, context in
            let params = scoped.params
            let connector = try engine.connectorName(scoped.connector)
            let lastSeq = try await engine.events.list(after: Int64.max - 1, limit: 1).lastSeq
            let after = params.after ?? lastSeq
            context.afterReply {
                subscriptions.start(on: context.connection) {
                    await engine.events.follow(after: after, of: connector) { events in
                        // A subscriber that does not read its answers gets no more until it does.
                        await context.connection.output.waitForRoom(below: Self.subscriberBacklog)
                        for event in events {
                            if let params = try? RawJSON(encoding: event) {
                                context.connection.notify(method: "event", params: params)
                            }
                        }
                    }
                }
            }
            return .init(lastSeq: lastSeq)
        }
        // One subscription per connection, whichever connector it follows.
        table.register(ForConnector<Unsubscribe>.self) { scoped, context in
            _ = try engine.connectorName(scoped.connector)
            subscriptions.stop(on: context.connection)
            return EmptyResult()
        }
    }

    /// Unread bytes past which event delivery to a subscriber pauses.
    static let subscriberBacklog = 1 << 20

    /// Sends `$/progress {token, value: {transmitted, failed, pending, total}}`.
    private static func progressReporter(token: RawJSON, connection: Connection) -> @Sendable (DocumentCounts) -> Void {
        { counts in
            let value = Progress.Value(
                transmitted: counts.transmitted, failed: counts.failed, pending: counts.pending, total: counts.total)
            if let params = try? RawJSON(encoding: Progress(token: token, value: value)) {
                connection.notify(method: "$/progress", params: params)
            }
        }
    }

    private static func submission(_ params: Submit.Params) throws -> Submission {
        let content: Submission.Content
        switch (params.file, params.contentBase64) {
        case (let file?, nil): content = .file(file)
        case (nil, let base64?): content = .base64(base64)
        default: throw ResponseError.invalidParams(field: "file", "give exactly one of file and contentBase64")
        }
        var depositedAt: Date?
        if let text = params.depositedAt {
            guard let date = try? Date(text, strategy: .iso8601) else {
                throw ResponseError.invalidParams(field: "depositedAt", "must be an ISO 8601 date and time")
            }
            depositedAt = date
        }
        return Submission(
            dossierID: params.dossierId, path: params.path, content: content, documentID: params.documentId,
            depositedAt: depositedAt, force: params.force ?? false, expectedSize: params.size,
            expectedSHA256: params.sha256, dryRun: params.dryRun ?? false)
    }

    private struct Progress: Encodable {
        struct Value: Encodable {
            let transmitted: Int
            let failed: Int
            let pending: Int
            let total: Int
        }
        let token: RawJSON
        let value: Value
    }
}

/// One event stream per connection, ended by `events.unsubscribe`, a new
/// `events.subscribe`, or the client leaving.
final class Subscriptions: Sendable {
    private let streams = Mutex<[ObjectIdentifier: Task<Void, Never>]>([:])

    func start(on connection: Connection, _ body: @escaping @Sendable () async -> Void) {
        let key = ObjectIdentifier(connection)
        let task = Task { await body() }
        let previous = streams.withLock { streams in
            defer { streams[key] = task }
            return streams[key]
        }
        if previous == nil {
            connection.onClose { [weak self] in self?.stop(on: connection) }
        }
        previous?.cancel()
    }

    func stop(on connection: Connection) {
        streams.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }?.cancel()
    }
}
