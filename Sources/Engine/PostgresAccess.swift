import Foundation
import Logging
import Postgres
import Store

/// The PostgreSQL database as the engine's parts use it, as `StorageAccess`
/// is SQLite's: a database out of reach is `EngineError.storageUnavailable`,
/// logged, its detail never holding the password (libpq's messages are
/// cleaned of it).
struct PostgresAccess: StoreAccess {
    let database: PostgresDatabase
    let logger: Logger
    let now: @Sendable () -> Date

    var dialect: SQLDialect { .postgres }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        do {
            return try await database.transaction(body)
        } catch let error as PostgresError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    @discardableResult
    func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) throws -> T {
        do {
            return try database.transactionBlocking(body)
        } catch let error as PostgresError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    /// On PostgreSQL a read is a transaction like any other, on any free connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await write(body)
    }

    func readForStream<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await write(body)
    }

    private func unavailable(_ error: PostgresError) -> EngineError {
        logger.error("storage unavailable", metadata: ["error": "\(error)"])
        return .storageUnavailable(detail: error.description)
    }
}

