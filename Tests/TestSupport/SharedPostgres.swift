import Foundation
import Postgres

/// One server for the tests that leave it running, each in a database of its own.
public enum SharedPostgres {
    public static let server = Task { try await PostgresServer.start() }

    /// A new, empty database on the shared server: its URI.
    public static func newDatabase() async throws -> String {
        let server = try await server.value
        let name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "_").lowercased()
        _ = try await onThread { try PostgresConnection(server.uri).execute("CREATE DATABASE \(name)") }
        return server.uri(database: name)
    }

    /// Ends the session holding `node`'s presence on the database at `uri`,
    /// as the death of its engine would, and waits until the server has let
    /// the presence go.
    public static func endPresence(of node: String, uri: String) async throws {
        _ = try await onThread {
            try PostgresConnection(uri).execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM (\(PostgresListener.presenceHolder("$1"))) holder", [node])
        }
    }
}

/// libpq's calls block: tests make them on a thread of their own, never on Swift's pool.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
