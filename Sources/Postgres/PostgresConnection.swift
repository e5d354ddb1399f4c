import CLibPQ
import Foundation
import Store

/// One connection to PostgreSQL through libpq. Blocking, and used from one
/// thread at a time (a libpq connection is not shared between threads):
/// callers give it a thread of their own, never Swift's cooperative pool.
public final class PostgresConnection {
    private let connection: OpaquePointer
    /// The password of the connection string, cut out of every message.
    private let password: String?
    /// Statements as written for both databases, and as PostgreSQL reads them.
    private var numberedStatements: [String: String] = [:]
    /// The statements prepared on this connection, by text: each is parsed
    /// and planned once, not at every call.
    private var preparedNames: [String: String] = [:]
    /// Between `begin` and `commit` or `rollback`.
    private var inTransaction = false
    /// Statements left by `executeBeforeCommit`, not sent yet.
    private var waitingForCommit: [PreparedCall] = []

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
        // libpq prints the server's notices ("relation … already exists, skipping") on stderr, where the engine's log goes.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
        self.password = password
    }

    deinit { PQfinish(connection) }

    /// Runs one statement, its `$1`, `$2`… bound to `parameters` as text
    /// (nil is NULL), and answers its rows as text. Without parameters,
    /// `sql` may hold several statements (a migration): the last one's rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresRows {
        try sendWaitingStatements()
        return try execute(sql, parameters: parameters.map { Parameter(type: 0, bytes: $0.map { Array($0.utf8) + [0] }, format: 0) })
    }

    /// Runs one statement, its `$1`, `$2`… bound to `values` in their types
    /// (`bigint`, `double precision`, `text`, `bytea`), prepared on this
    /// connection at its first call (the types of that call's values are the
    /// statement's from then on).
    func executePrepared(_ sql: String, values: [SQLValue]) throws(PostgresError) -> PostgresRows {
        try result(of: answer(sql, values, resultFormat: 0))
    }

    /// Runs a prepared statement with its results in binary (`bytea` as
    /// its bytes, not hex text) and hands the first row's first column to
    /// `body`, without a copy (nil: no row, or NULL).
    func withFirstValueInBinary<T>(_ sql: String, values: [SQLValue], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T {
        let answer = try succeeded(answer(sql, values, resultFormat: 1))
        defer { PQclear(answer) }
        guard PQntuples(answer) > 0, PQnfields(answer) > 0, PQgetisnull(answer, 0, 0) == 0, let value = PQgetvalue(answer, 0, 0) else {
            return try body(nil)
        }
        return try body(UnsafeRawBufferPointer(start: value, count: Int(PQgetlength(answer, 0, 0))))
    }

    /// Prepared statements whose rows are not needed, run in order. In a
    /// transaction they wait, to be sent together with its commit in one
    /// round trip (or, if another statement comes first, just before it): a transaction
    /// ending with them costs one round trip less, and holds its last locks
    /// that much less long. Outside one they are sent at once, together.
    /// After the first that fails, the others are skipped (the transaction
    /// is then aborted); its error is thrown then.
    func executeBeforeCommit(_ statements: [(sql: String, values: [SQLValue])]) throws(PostgresError) {
        waitingForCommit += try statements.map { statement throws(PostgresError) in try preparedCall(statement.sql, statement.values) }
        if !inTransaction { try sendWaitingStatements() }
    }

    /// Starts a transaction (`commit` or `rollback` ends it).
    public func begin() throws(PostgresError) {
        try execute("BEGIN")
        inTransaction = true
    }

    /// Commits, with the statements still waiting to be sent.
    public func commit() throws(PostgresError) {
        let calls = waitingForCommit + [try preparedCall("COMMIT", [])]
        (waitingForCommit, inTransaction) = ([], false)
        try executePipelined(calls)
    }

    /// Rolls back; the statements still waiting are dropped.
    public func rollback() throws(PostgresError) {
        (waitingForCommit, inTransaction) = ([], false)
        try execute("ROLLBACK")
    }

    private func sendWaitingStatements() throws(PostgresError) {
        guard !waitingForCommit.isEmpty else { return }
        let calls = waitingForCommit
        waitingForCommit = []
        try executePipelined(calls)
    }

    /// A prepared statement and its values, to send in pipeline mode.
    private struct PreparedCall {
        let name: String
        let parameters: [Parameter]
    }

    /// libpq's answer to a prepared statement, its results in text (0) or binary (1), after what waits is sent.
    private func answer(_ sql: String, _ values: [SQLValue], resultFormat: Int32) throws(PostgresError) -> OpaquePointer? {
        try sendWaitingStatements()
        let call = try preparedCall(sql, values)
        return withValues(call.parameters) { pointers, lengths, formats in
            PQexecPrepared(connection, call.name, Int32(call.parameters.count), pointers, lengths, formats, resultFormat)
        }
    }

    private func preparedCall(_ sql: String, _ values: [SQLValue]) throws(PostgresError) -> PreparedCall {
        let parameters = values.map(Parameter.init)
        return PreparedCall(name: try prepared(sql, parameters), parameters: parameters)
    }

    /// Runs `calls` in libpq's pipeline mode: sent together and answered
    /// together, one round trip for all.
    private func executePipelined(_ calls: [PreparedCall]) throws(PostgresError) {
        guard PQenterPipelineMode(connection) == 1 else { throw brokenOrOutOfMemory() }
        defer { PQexitPipelineMode(connection) }
        for call in calls {
            let sent = withValues(call.parameters) { pointers, lengths, formats in
                PQsendQueryPrepared(connection, call.name, Int32(call.parameters.count), pointers, lengths, formats, 0)
            }
            guard sent == 1 else { throw brokenOrOutOfMemory() }
        }
        guard PQpipelineSync(connection) == 1 else { throw brokenOrOutOfMemory() }
        var failure: PostgresError?
        // Each statement's result then a NULL; then the sync's own result.
        for _ in calls {
            while let answer = PQgetResult(connection) {
                do throws(PostgresError) { _ = try result(of: answer) } catch { failure = failure ?? error }
            }
        }
        guard let sync = PQgetResult(connection) else { throw brokenOrOutOfMemory() }
        PQclear(sync)
        if let failure { throw failure }
    }

    /// The name `sql` is prepared under on this connection: prepared now at its first use.
    private func prepared(_ sql: String, _ parameters: [Parameter]) throws(PostgresError) -> String {
        if let name = preparedNames[sql] { return name }
        let name = "s\(preparedNames.count + 1)"
        _ = try result(of: PQprepare(connection, name, sql, Int32(parameters.count), parameters.map(\.type)))
        preparedNames[sql] = name
        return name
    }

    private func execute(_ sql: String, parameters: [Parameter]) throws(PostgresError) -> PostgresRows {
        guard !parameters.isEmpty else { return try result(of: PQexec(connection, sql)) }
        return try result(of: withValues(parameters) { pointers, lengths, formats in
            PQexecParams(connection, sql, Int32(parameters.count), parameters.map(\.type), pointers, lengths, formats, 0)
        })
    }

    /// Runs `call` with the values' addresses, lengths and formats, as libpq takes them.
    private func withValues<Answer>(
        _ parameters: [Parameter],
        _ call: ([UnsafePointer<CChar>?], [Int32], [Int32]) -> Answer
    ) -> Answer {
        // One buffer for every value, so that each has a stable address during the call.
        var buffer: [UInt8] = []
        var offsets: [Int] = []
        for parameter in parameters {
            offsets.append(buffer.count)
            buffer.append(contentsOf: parameter.bytes ?? [])
        }
        return buffer.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            let pointers = zip(parameters, offsets).map { parameter, offset in
                parameter.bytes == nil ? nil : (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return call(pointers, parameters.map(\.length), parameters.map(\.format))
        }
    }

    /// A value as libpq sends it: its type (0: the one the statement gives it), bytes and format.
    private struct Parameter {
        let type: Oid
        /// Text ends with a NUL; nil is NULL.
        let bytes: [UInt8]?
        let format: Int32

        var length: Int32 { Int32(bytes?.count ?? 0) }

        init(type: Oid, bytes: [UInt8]?, format: Int32) {
            (self.type, self.bytes, self.format) = (type, bytes, format)
        }

        init(_ value: SQLValue) {
            switch value {
            case .null: (type, bytes, format) = (0, nil, 0)
            case .integer(let number): (type, bytes, format) = (20, Array(String(number).utf8) + [0], 0)
            case .real(let number): (type, bytes, format) = (701, Array(String(number).utf8) + [0], 0)
            case .text(let text): (type, bytes, format) = (25, Array(text.utf8) + [0], 0)
            case .blob(let data): (type, bytes, format) = (17, data, 1)
            }
        }
    }

    private func result(of result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        let answer = try succeeded(result)
        defer { PQclear(answer) }
        return PostgresRows(answer)
    }

    /// `result` when it tells of a success; otherwise cleared, and its error thrown.
    private func succeeded(_ result: OpaquePointer?) throws(PostgresError) -> OpaquePointer {
        guard let result else { throw brokenOrOutOfMemory() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return result
        default:
            defer { PQclear(result) }
            if PQstatus(connection) != CONNECTION_OK { throw brokenOrOutOfMemory() }
            let sqlState = PQresultErrorField(result, Self.sqlStateField).map { String(cString: $0) } ?? ""
            throw .refused(sqlState: sqlState, message: Self.cleaned(String(cString: PQresultErrorMessage(result)), password: password))
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back
    /// when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let value = try body()
            try commit()
            return value
        } catch {
            try? rollback()
            throw error
        }
    }

    /// `sql`'s placeholders numbered as PostgreSQL numbers them.
    func numbered(_ sql: String) -> String {
        if let numbered = numberedStatements[sql] { return numbered }
        let numbered = numberedPlaceholders(sql)
        numberedStatements[sql] = numbered
        return numbered
    }

    /// The connection's socket, to wait on for notifications.
    public var socket: Int32 { PQsocket(connection) }

    /// Reads what the server sent, and says how many notifications came
    /// (after `LISTEN`); throws when the connection broke.
    public func takeNotifications() throws(PostgresError) -> Int {
        guard PQconsumeInput(connection) == 1 else { throw brokenOrOutOfMemory() }
        var count = 0
        while let notification = PQnotifies(connection) {
            PQfreemem(notification)
            count += 1
        }
        return count
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
    /// The rows an INSERT, UPDATE or DELETE changed.
    public let changed: Int

    init(_ result: OpaquePointer) {
        changed = Int(String(cString: PQcmdTuples(result))) ?? 0
        let (count, fields) = (PQntuples(result), PQnfields(result))
        rows = (0..<count).map { row in
            (0..<fields).map { field in
                PQgetisnull(result, row, field) == 1 ? nil : String(cString: PQgetvalue(result, row, field))
            }
        }
    }

}

/// One row, its columns read by position in the type the statement gave
/// them (as PostgreSQL writes them out in text).
public struct PostgresRow: SQLRow, Sendable {
    public let values: [String?]

    public func isNull(_ column: Int32) -> Bool { values[Int(column)] == nil }

    public func text(_ column: Int32) throws -> String {
        guard let value = values[Int(column)] else { throw Self.unexpected(column, "NULL") }
        return value
    }

    /// A whole number; a boolean (`EXISTS`, a comparison) reads as 1 or 0, as on SQLite.
    public func int(_ column: Int32) throws -> Int64 {
        let text = try text(column)
        switch text {
        case "t": return 1
        case "f": return 0
        default:
            guard let value = Int64(text) else { throw Self.unexpected(column, text) }
            return value
        }
    }

    public func double(_ column: Int32) throws -> Double {
        let text = try text(column)
        guard let value = Double(text) else { throw Self.unexpected(column, text) }
        return value
    }

    /// `bytea` in its hex output: `\x` then two digits a byte.
    public func blob(_ column: Int32) throws -> [UInt8] {
        let text = try text(column)
        guard text.hasPrefix("\\x"), let bytes = Hex.bytes(text.utf8.dropFirst(2)) else { throw Self.unexpected(column, text) }
        return bytes
    }

    /// A column whose value is not of the type the schema gives it: a statement and the schema disagree.
    private static func unexpected(_ column: Int32, _ value: String) -> PostgresError {
        .refused(sqlState: "", message: "column \(column + 1) holds \(value.prefix(40)), not the type expected")
    }
}
