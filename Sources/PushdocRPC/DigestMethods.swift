import Engine
import JSONRPC

/// Binds collaborators and digest methods to the engine.
extension PushdocMethods {
    static func registerDigest(_ table: inout MethodTable, engine: Engine) {
        table.register(UpsertCollaborators.self) { params, _ in
            .init(upserted: try await engine.digest.upsertCollaborators(params.collaborators))
        }
        table.register(RemoveCollaborators.self) { params, _ in .init(removed: try await engine.digest.removeCollaborators(params.ids)) }
        table.register(ListCollaborators.self) { _, _ in .init(collaborators: try await engine.digest.collaborators()) }
        table.register(PreviewDigest.self) { params, _ in
            try await engine.digest.preview(collaboratorID: params.collaboratorId, day: params.date)
        }
        table.register(SendDigest.self) { params, _ in
            try await engine.digest.send(day: params.date, collaboratorID: params.collaboratorId, force: params.force ?? false)
        }
    }
}
