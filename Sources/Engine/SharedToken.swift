import Foundation
import InqomClient
import Store
import WorkerThreads

/// A connector's Inqom token, shared by the engines of a deployment: sealed
/// in the database, renewed by one engine at a time under a lock on the
/// connector, taken by the others from there.
struct SharedToken: Sendable {
    let storage: PostgresAccess
    let connector: ConnectorName
    let box: SecretBox

    /// The stored token if another engine renewed it since `refused` (the
    /// token this engine holds, refused or about to expire) and `usable`
    /// says it is; else a new one from `fetch`, stored for the others.
    /// Blocks a connection of the database while `fetch` runs: renewals
    /// are rare, and the lock must last until the new token is stored.
    func renew(
        replacing refused: String?, usable: @escaping @Sendable (AccessToken) -> Bool,
        fetch: @escaping @Sendable () async throws -> AccessToken
    ) async throws -> AccessToken {
        try await storage.write { [connector, box] connection in
            try connection.run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [.text("token/" + connector.rawValue)])
            if let stored = try Self.stored(connection, connector, box), stored.value != refused, usable(stored) { return stored }
            // On the connection's own thread, which may block.
            let fresh = try awaitFromThread(fetch).get()
            try Self.store(fresh, connection, connector, box)
            return fresh
        }
    }

    /// Stores a token this engine got otherwise (`wizard.connect`).
    func publish(_ token: AccessToken) async throws {
        try await storage.write { [connector, box] connection in try Self.store(token, connection, connector, box) }
    }

    private struct Sealed: Codable {
        let value: String
        let expiresAt: Date
    }

    private static func stored(_ connection: any SQLConnection, _ connector: ConnectorName, _ box: SecretBox) throws -> AccessToken? {
        guard let encoded = try connection.rows("SELECT sealed FROM shared_tokens WHERE connector = ?", [connector.sql], { try $0.text(0) }).first,
            let plain = try? box.open(Array(Data(base64Encoded: encoded) ?? Data())),
            let sealed = try? JSONDecoder().decode(Sealed.self, from: Data(plain))
        else { return nil }
        return AccessToken(value: sealed.value, expiresAt: sealed.expiresAt)
    }

    private static func store(_ token: AccessToken, _ connection: any SQLConnection, _ connector: ConnectorName, _ box: SecretBox) throws {
        let sealed = Data(try box.seal(Array(try JSONEncoder().encode(Sealed(value: token.value, expiresAt: token.expiresAt)))))
        try connection.run(
            """
            INSERT INTO shared_tokens (connector, sealed) VALUES (?, ?)
            ON CONFLICT (connector) DO UPDATE SET sealed = excluded.sealed
            """, [connector.sql, .text(sealed.base64EncodedString())])
    }

}
