import Foundation

extension Engine {
    public func upsertCollaborators(_ collaborators: [Collaborator]) async throws -> Int {
        for (index, collaborator) in collaborators.enumerated() {
            guard !collaborator.id.isEmpty else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).id", message: "must not be empty")
            }
            try TextLimits.check(collaborator.id, field: "collaborators.\(index).id")
            try TextLimits.check(collaborator.name, field: "collaborators.\(index).name")
            try TextLimits.check(collaborator.email, field: "collaborators.\(index).email")
            // A line break in a header field would let it write other headers.
            guard !collaborator.name.contains(where: \.isNewline) else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).name", message: "must be one line")
            }
            let email = collaborator.email
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
                !email.contains(where: { $0.isWhitespace || "<>\",;".contains($0) })
            else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).email", message: "must be an email address")
            }
        }
        try await digestStore.upsert(collaborators)
        return collaborators.count
    }

    public func removeCollaborators(_ ids: [String]) async throws -> Int {
        try await digestStore.remove(collaboratorIDs: ids)
    }

    public func collaborators() async throws -> [Collaborator] {
        try await digestStore.collaborators(id: nil)
    }
}
