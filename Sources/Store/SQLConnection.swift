/// A connection a store's statements run on, whichever database keeps the
/// state: statements are written once, with `?` (or `?1`, `?2`…) for their
/// values, in the SQL both SQLite and PostgreSQL speak; `dialect` says which
/// one runs them where they must differ.
public protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Calls `row` for each result row of the statement.
    func query(_ sql: String, _ bindings: [SQLValue], row: (any SQLRow) throws -> Void) throws
    /// Runs a statement that returns no rows; returns the rows it changed.
    @discardableResult
    func run(_ sql: String, _ bindings: [SQLValue]) throws -> Int
    /// Runs statements that return no rows, in order. Where the database is
    /// a server, they are sent together, in a transaction with its commit
    /// (or the next statement): their failure is then thrown by that.
    func runTogether(_ statements: [SQLStatement]) throws
    /// Hands the first row's first column, as bytes, to `body` (nil: no
    /// row); where the database is a server, received as they are stored,
    /// not as text, and not copied.
    func withFirstBytes<T>(_ sql: String, _ bindings: [SQLValue], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T
}

extension SQLConnection {
    @discardableResult
    public func run(_ statement: SQLStatement) throws -> Int {
        try run(statement.sql, statement.bindings)
    }

    public func runTogether(_ statements: [SQLStatement]) throws {
        for statement in statements { try run(statement) }
    }

    public func withFirstBytes<T>(_ sql: String, _ bindings: [SQLValue], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T {
        guard let bytes = try rows(sql, bindings, { try $0.blob(0) }).first else { return try body(nil) }
        return try bytes.withUnsafeBytes { try body($0) }
    }
}

/// A statement and its values, to run later (with others: `runTogether`).
public struct SQLStatement: Sendable {
    public let sql: String
    public let bindings: [SQLValue]

    public init(_ sql: String, _ bindings: [SQLValue]) {
        (self.sql, self.bindings) = (sql, bindings)
    }
}

public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// SQLite's hint naming the index a query must use (without statistics
    /// its planner may pick one that sorts every row); PostgreSQL plans
    /// with its own statistics.
    public func indexedBy(_ index: String) -> String { self == .sqlite ? "INDEXED BY \(index)" : "" }

    /// The elements of a JSON array of text bound at `placeholder`, as the rows of a subquery.
    public func jsonTextElements(_ placeholder: String) -> String {
        self == .sqlite ? "SELECT value FROM json_each(\(placeholder))" : "SELECT jsonb_array_elements_text(CAST(\(placeholder) AS jsonb))"
    }

    /// A `FROM` item: the members of the JSON object in `column`, as rows with a `key` (and `value`).
    public func jsonObjectMembers(_ column: String, as alias: String) -> String {
        self == .sqlite ? "json_each(\(column)) AS \(alias)" : "jsonb_each_text(CAST(\(column) AS jsonb)) AS \(alias)"
    }

    /// Where `needle` starts in `text`, counting from 1; 0 when it is not there.
    public func position(of needle: String, in text: String) -> String {
        self == .sqlite ? "instr(\(text), \(needle))" : "strpos(\(text), \(needle))"
    }
}

/// The current row of a query, its columns read by position.
public protocol SQLRow {
    func isNull(_ column: Int32) -> Bool
    func int(_ column: Int32) throws -> Int64
    func double(_ column: Int32) throws -> Double
    func text(_ column: Int32) throws -> String
    func blob(_ column: Int32) throws -> [UInt8]
}

extension SQLRow {
    public func optionalText(_ column: Int32) throws -> String? { isNull(column) ? nil : try text(column) }
    public func optionalInt(_ column: Int32) throws -> Int64? { isNull(column) ? nil : try int(column) }
    public func optionalDouble(_ column: Int32) throws -> Double? { isNull(column) ? nil : try double(column) }
}

extension SQLConnection {
    /// The rows of a query, each mapped by `transform`.
    public func rows<T>(_ sql: String, _ bindings: [SQLValue] = [], _ transform: (any SQLRow) throws -> T) throws -> [T] {
        var result: [T] = []
        try query(sql, bindings) { result.append(try transform($0)) }
        return result
    }

    /// The first column of the first row, as a whole number; 0 when there is none.
    public func count(_ sql: String, _ bindings: [SQLValue] = []) throws -> Int {
        try rows(sql, bindings) { Int(try $0.int(0)) }.first ?? 0
    }
}
