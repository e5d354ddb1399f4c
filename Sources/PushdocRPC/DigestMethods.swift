import Engine
import JSONRPC

/// Binds collaborators and digest methods to the engine.
extension PushdocMethods {
    static func registerDigest(_ table: inout MethodTable, engine: Engine) {
        register(&table, UpsertCollaborators.self, of: engine) { params, firm, _ in
            .init(upserted: try await firm.digest.upsertCollaborators(params.collaborators))
        }
        register(&table, RemoveCollaborators.self, of: engine) { params, firm, _ in .init(removed: try await firm.digest.removeCollaborators(params.ids)) }
        register(&table, ListCollaborators.self, of: engine) { _, firm, _ in .init(collaborators: try await firm.digest.collaborators()) }
        register(&table, PreviewDigest.self, of: engine) { params, firm, _ in
            try await firm.digest.preview(collaboratorID: params.collaboratorId, day: params.date)
        }
        register(&table, SendDigest.self, of: engine) { params, firm, _ in
            try await firm.digest.send(day: params.date, collaboratorID: params.collaboratorId, force: params.force ?? false)
        }
    }
}
