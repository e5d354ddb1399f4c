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
