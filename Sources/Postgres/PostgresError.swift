/// What went wrong talking to PostgreSQL. No case ever holds the
/// connection's password: libpq's messages are cleaned of it.
public enum PostgresError: Error, Equatable, CustomStringConvertible {
    /// No connection, or it broke: the database is unreachable for now.
    case unreachable(detail: String)
    /// The server refused the statement; `sqlState` is its SQLSTATE code.
    case refused(sqlState: String, message: String)

    public var description: String {
        switch self {
        case .unreachable(let detail): "PostgreSQL unreachable: \(detail)"
        case .refused(let sqlState, let message): "PostgreSQL refused the statement (\(sqlState)): \(message)"
        }
    }
}

extension PostgresError {
    /// A row with the same key was committed by another transaction (another engine) meanwhile.
    public var isUniqueViolation: Bool {
        if case .refused(let sqlState, _) = self { return sqlState == "23505" }
        return false
    }

    /// The database is out of reach or cannot store for now (connection
    /// lost, server shutting down or starting, out of disk or memory), as
    /// opposed to a statement it refuses.
    public var isStorageFailure: Bool {
        switch self {
        case .unreachable: true
        case .refused(let sqlState, _): ["08", "53", "57", "58"].contains(sqlState.prefix(2))
        }
    }
}
