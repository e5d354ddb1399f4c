import Store

extension PostgresConnection: SQLConnection {
    public var dialect: SQLDialect { .postgres }

    public func query(_ sql: String, _ bindings: [SQLValue], row: (any SQLRow) throws -> Void) throws {
        for values in try executePrepared(numbered(sql), values: bindings).rows { try row(PostgresRow(values: values)) }
    }

    @discardableResult
    public func run(_ sql: String, _ bindings: [SQLValue]) throws -> Int {
        try executePrepared(numbered(sql), values: bindings).changed
    }

    public func runTogether(_ statements: [SQLStatement]) throws {
        try executeBeforeCommit(statements.map { (numbered($0.sql), $0.bindings) })
    }

    public func withFirstBytes<T>(_ sql: String, _ bindings: [SQLValue], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T {
        try withFirstValueInBinary(numbered(sql), values: bindings, body)
    }
}

/// SQLite's placeholders as PostgreSQL's: `?N` becomes `$N`, and `?` the
/// next number after the highest so far (SQLite's own rule); quoted text
/// and names are left as they are.
func numberedPlaceholders(_ sql: String) -> String {
    let bytes = Array(sql.utf8)
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count + 16)
    var highest = 0
    var quote: UInt8?
    var index = 0
    while index < bytes.count {
        let byte = bytes[index]
        index += 1
        if let open = quote {
            if byte == open { quote = nil }
            output.append(byte)
        } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
            quote = byte
            output.append(byte)
        } else if byte == UInt8(ascii: "?") {
            var number = 0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                number = number * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            let placeholder = index > start ? number : highest + 1
            highest = max(highest, placeholder)
            output.append(contentsOf: "$\(placeholder)".utf8)
        } else {
            output.append(byte)
        }
    }
    return String(decoding: output, as: UTF8.self)
}
