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
                """),
        Migration(
            2, "catalog, selection, mapping, rules",
            sql: """
                CREATE TABLE dossiers (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    -- folded name: the order of lists
                    sort_key TEXT NOT NULL,
                    -- folded name and attribute values, searched as a substring
                    search_text TEXT NOT NULL,
                    attributes TEXT NOT NULL,
                    selected INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX dossiers_by_name ON dossiers (sort_key, id);
                CREATE INDEX dossiers_selected ON dossiers (selected, sort_key, id) WHERE selected = 1;
                CREATE TABLE catalog_folders (
                    path TEXT PRIMARY KEY,
                    folded TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX catalog_folders_folded ON catalog_folders (folded);
                CREATE TABLE mapping (
                    dossier_id TEXT PRIMARY KEY,
                    siret TEXT NOT NULL,
                    inqom_folder_id INTEGER NOT NULL,
                    inqom_folder_name TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE rules (
                    id TEXT PRIMARY KEY,
                    deposit_path TEXT NOT NULL,
                    deposit_key TEXT NOT NULL,
                    document_type TEXT NOT NULL,
                    archive_path TEXT,
                    period TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    UNIQUE (deposit_key, document_type)
                ) WITHOUT ROWID;
                """),
    ]
}
