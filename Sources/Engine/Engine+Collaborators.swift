import Foundation
import Store

/// A firm's collaborator, who may receive the daily digest of failures.
public struct Collaborator: Codable, Sendable, Equatable {
    public let id: String
    public let name: String
    public let email: String
    public let dailyDigest: Bool
    /// nil: every selected dossier.
    public let dossierIds: [String]?

    public init(id: String, name: String, email: String, dailyDigest: Bool, dossierIds: [String]?) {
        self.id = id
        self.name = name
        self.email = email
        self.dailyDigest = dailyDigest
        self.dossierIds = dossierIds
    }
}

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
        let rows: [[SQLValue]] = try collaborators.map { collaborator in
            [.text(collaborator.id), .text(collaborator.name), .text(collaborator.email),
             .integer(collaborator.dailyDigest ? 1 : 0),
             try collaborator.dossierIds.map { .text(String(decoding: try JSONEncoder().encode($0), as: UTF8.self)) } ?? .null]
        }
        return try await write { connection in
            for row in rows {
                try connection.run(
                    """
                    INSERT INTO collaborators (id, name, email, daily_digest, dossier_ids) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, email = excluded.email,
                        daily_digest = excluded.daily_digest, dossier_ids = excluded.dossier_ids
                    """, row)
            }
            return rows.count
        }
    }

    public func removeCollaborators(_ ids: [String]) async throws -> Int {
        try await write { connection in
            try ids.reduce(0) { $0 + (try connection.run("DELETE FROM collaborators WHERE id = ?", [.text($1)])) }
        }
    }

    public func collaborators() async throws -> [Collaborator] {
        try await database.read { connection in try Self.collaborators(connection, id: nil) }
    }

    static func collaborators(_ connection: SQLiteConnection, id: String?) throws -> [Collaborator] {
        let filter = id == nil ? "" : " WHERE id = ?"
        return try connection.rows(
            "SELECT id, name, email, daily_digest, dossier_ids FROM collaborators" + filter + " ORDER BY id",
            id.map { [.text($0)] } ?? []
        ) { row in
            Collaborator(
                id: row.text(0), name: row.text(1), email: row.text(2), dailyDigest: row.int(3) == 1,
                dossierIds: row.optionalText(4).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) })
        }
    }
}
