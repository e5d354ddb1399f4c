import Store

/// Applies the migrations a PostgreSQL database lacks, in order, each in its
/// own transaction, under an advisory lock: when several engines start
/// together, one migrates and the others wait for it, then find nothing to do.
public struct PostgresMigrator {
    public let migrations: [Migration]

    /// The advisory lock's key, the same for every engine: "pushdoc" in ASCII.
    static let lockKey = "31654335924694883"

    public init(_ migrations: [Migration]) {
        self.migrations = migrations
    }

    public func migrate(_ connection: PostgresConnection) throws {
        try connection.execute("SELECT pg_advisory_lock($1::bigint)", [Self.lockKey])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1::bigint)", [Self.lockKey]) }
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                number integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let applied = Set(try connection.execute("SELECT number FROM schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
        for migration in try Migration.missing(from: migrations, applied: applied) {
            _ = try connection.transaction {
                try connection.execute(migration.sql)
                try connection.execute(
                    "INSERT INTO schema_migrations (number, name) VALUES ($1, $2)", [String(migration.number), migration.name])
            }
        }
    }
}
