import Engine
import Foundation
import JSONRPC
import Synchronization

/// Binds push, status and events methods to the engine.
extension PushdocMethods {
    static func registerPush(_ table: inout MethodTable, engine: Engine) {
        table.register(Submit.self) { params, _ in try await engine.intake.submit(try submission(params)) }
        table.register(Retry.self) { params, _ in
            guard params.documentIds != nil || params.all == true || params.dossierId != nil else {
                throw ResponseError.invalidParams(field: "documentIds", "give documentIds, all: true, or a dossierId")
            }
            return .init(requeued: try await engine.documents.retry(documentIDs: params.documentIds, dossierID: params.dossierId))
        }
        table.register(Drain.self) { params, context in
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
            return try await engine.drain(timeout: .milliseconds(context.id == nil ? 0 : timeout), progress: progress)
        }
        table.register(Summary.self) { _, _ in try await engine.summary() }
        table.register(EngineStatusMethod.self) { _, _ in await engine.engineStatus() }
        table.register(ListConnectors.self) { params, _ in
            try await engine.listConnectors(state: params.state, cursor: params.cursor, limit: params.limit ?? 100)
        }
        table.register(DocumentStatusMethod.self) { params, _ in try await engine.documents.status(id: params.documentId) }
        table.register(Documents.self) { params, _ in
            try await engine.documents.list(
                .init(dossierID: params.dossierId, state: params.state, pathPrefix: params.pathPrefix, cursor: params.cursor,
                      limit: params.limit ?? 100))
        }
        table.register(ListEvents.self) { params, _ in
            let (events, lastSeq) = try await engine.events.list(after: params.after ?? 0, limit: params.limit ?? 100)
            return .init(events: events, lastSeq: lastSeq)
        }
        let subscriptions = Subscriptions()
        table.register(Subscribe.self) { params, context in
            let lastSeq = try await engine.events.list(after: Int64.max - 1, limit: 1).lastSeq
            let after = params.after ?? lastSeq
            context.afterReply {
                subscriptions.start(on: context.connection) {
                    await engine.events.follow(after: after) { events in
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
        table.register(Unsubscribe.self) { _, context in
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
