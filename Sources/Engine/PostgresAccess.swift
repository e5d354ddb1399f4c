import Foundation
import Logging
import Postgres

/// The PostgreSQL database as the engine's parts use it, as `StorageAccess`
/// is SQLite's: a database out of reach is `EngineError.storageUnavailable`,
/// logged, its detail never holding the password (libpq's messages are
/// cleaned of it).
struct PostgresAccess: Sendable {
    let database: PostgresDatabase
    let logger: Logger

    @discardableResult
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        do {
            return try await database.transaction(body)
        } catch let error as PostgresError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    @discardableResult
    func transactionBlocking<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) throws -> T {
        do {
            return try database.transactionBlocking(body)
        } catch let error as PostgresError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    private func unavailable(_ error: PostgresError) -> EngineError {
        logger.error("storage unavailable", metadata: ["error": "\(error)"])
        return .storageUnavailable(detail: error.description)
    }
}

extension Date {
    /// The date as a statement binds it: seconds since 1970.
    var pg: String { String(timeIntervalSince1970) }
}

extension PostgresRow {
    func word<Word: RawRepresentable<String>>(_ column: Int, as _: Word.Type = Word.self) throws -> Word {
        try storedWord(text(column))
    }

    func date(_ column: Int) throws -> Date { Date(timeIntervalSince1970: try double(column)) }
}

extension PostgresConnection {
    /// Appends an event inside the caller's transaction, which should commit
    /// soon after: its seq's row stays locked until then, and every other
    /// engine's events wait for it (that is what keeps seq commit-ordered).
    func appendEvent(_ type: EventType, of connector: ConnectorName, at date: Date, _ data: [String: EventValue]) throws {
        try execute(
            """
            WITH next AS (UPDATE event_seq SET last = last + 1 RETURNING last)
            INSERT INTO events (seq, connector, type, at, data) SELECT last, $1, $2, $3, $4 FROM next
            """, [connector.rawValue, type.rawValue, date.pg, EventValue.json(data)])
    }

    /// Events after `seq`, oldest first (of one connector, or of all).
    func events(after seq: Int64, of connector: ConnectorName?, limit: Int) throws -> [Event] {
        try execute(
            """
            SELECT seq, type, at, connector, data FROM events
            WHERE seq > $1 AND ($2::text IS NULL OR connector = $2) ORDER BY seq LIMIT $3
            """, [String(seq), connector?.rawValue, String(limit)]
        ).map { row in
            try Event(seq: row.int(0), type: row.text(1), at: row.double(2), connector: row.text(3), json: row.text(4))
        }
    }

    func addHistory(_ documentSeq: Int64, at date: Date, event: HistoryEvent, detail: String?) throws {
        try execute(
            "INSERT INTO document_history (document_seq, at, event, detail) VALUES ($1, $2, $3, $4)",
            [String(documentSeq), date.pg, event.rawValue, detail])
    }
}
