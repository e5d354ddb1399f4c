import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq. Blocking, and used from one
/// thread at a time (a libpq connection is not shared between threads):
/// callers give it a thread of their own, never Swift's cooperative pool.
public final class PostgresConnection {
    private let connection: OpaquePointer
    /// The password of the connection string, cut out of every message.
    private let password: String?

    /// Connects with a libpq connection URI (`postgres://…`) or keyword
    /// string; the password comes from it, `PGPASSWORD` or `~/.pgpass`.
    public init(_ connectionString: String) throws(PostgresError) {
        let password = Self.password(in: connectionString)
        guard let connection = PQconnectdb(connectionString) else { throw .unreachable(detail: "libpq is out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let detail = Self.cleaned(Self.message(of: connection), password: password)
            PQfinish(connection)
            throw .unreachable(detail: detail)
        }
        self.connection = connection
        self.password = password
    }

    deinit { PQfinish(connection) }

    /// Runs one statement, its `$1`, `$2`… bound to `parameters` as text
    /// (nil is NULL), and answers its rows as text. Without parameters,
    /// `sql` may hold several statements (a migration): the last one's rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let values = copies.map { UnsafePointer($0) }
        let result =
            parameters.isEmpty
            ? PQexec(connection, sql)
            : values.withUnsafeBufferPointer { values in
                PQexecParams(connection, sql, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
            }
        guard let result else { throw brokenOrOutOfMemory() }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PostgresRows(result)
        default:
            if PQstatus(connection) != CONNECTION_OK { throw brokenOrOutOfMemory() }
            let sqlState = PQresultErrorField(result, Self.sqlStateField).map { String(cString: $0) } ?? ""
            throw .refused(sqlState: sqlState, message: Self.cleaned(String(cString: PQresultErrorMessage(result)), password: password))
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back
    /// when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// The connection still answers.
    public var isOpen: Bool { PQstatus(connection) == CONNECTION_OK }

    private func brokenOrOutOfMemory() -> PostgresError {
        .unreachable(detail: Self.cleaned(Self.message(of: connection), password: password))
    }

    /// PG_DIAG_SQLSTATE, a character constant the C header defines as a macro.
    private static let sqlStateField = Int32(UInt8(ascii: "C"))

    private static func message(of connection: OpaquePointer) -> String {
        PQerrorMessage(connection).map { String(cString: $0) } ?? ""
    }

    private static func cleaned(_ message: String, password: String?) -> String {
        let trimmed = message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let password, !password.isEmpty else { return trimmed }
        return trimmed.replacing(password, with: "[password]")
    }

    /// The password a connection string gives, as libpq parses it.
    private static func password(in connectionString: String) -> String? {
        guard let options = PQconninfoParse(connectionString, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password" { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }
}

/// A statement's rows, as text; nil is NULL.
public struct PostgresRows: Sendable, Equatable {
    public let rows: [[String?]]

    init(_ result: OpaquePointer) {
        let (count, fields) = (PQntuples(result), PQnfields(result))
        rows = (0..<count).map { row in
            (0..<fields).map { field in
                PQgetisnull(result, row, field) == 1 ? nil : String(cString: PQgetvalue(result, row, field))
            }
        }
    }

    /// Each row read through `transform`, in order.
    public func map<T>(_ transform: (PostgresRow) throws -> T) rethrows -> [T] {
        try rows.map { try transform(PostgresRow(values: $0)) }
    }
}

/// One row, its columns read by position in the type the statement gave them.
public struct PostgresRow: Sendable {
    public let values: [String?]

    public func isNull(_ column: Int) -> Bool { values[column] == nil }

    public func text(_ column: Int) throws(PostgresError) -> String {
        guard let value = values[column] else { throw Self.unexpected(column, "NULL") }
        return value
    }

    public func optionalText(_ column: Int) -> String? { values[column] }

    public func int(_ column: Int) throws(PostgresError) -> Int64 {
        let text = try text(column)
        guard let value = Int64(text) else { throw Self.unexpected(column, text) }
        return value
    }

    public func optionalInt(_ column: Int) throws(PostgresError) -> Int64? { isNull(column) ? nil : try int(column) }

    public func double(_ column: Int) throws(PostgresError) -> Double {
        let text = try text(column)
        guard let value = Double(text) else { throw Self.unexpected(column, text) }
        return value
    }

    public func optionalDouble(_ column: Int) throws(PostgresError) -> Double? { isNull(column) ? nil : try double(column) }

    /// A column whose value is not of the type the schema gives it: a statement and the schema disagree.
    private static func unexpected(_ column: Int, _ value: String) -> PostgresError {
        .refused(sqlState: "", message: "column \(column + 1) holds \(value.prefix(40)), not the type expected")
    }
}
