/// The engine's schema, one migration per step. Append new steps at the
/// end; never edit one that has shipped.
public enum Schema {
    public static let migrations: [Migration] = [
        Migration(
            1, "settings",
            sql: """
                CREATE TABLE settings (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
    ]
}
