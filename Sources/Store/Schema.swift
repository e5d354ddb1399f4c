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
        Migration(
            3, "documents and the event log",
            sql: """
                CREATE TABLE documents (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    dossier_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    file_name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    spool_name TEXT,
                    rule_id TEXT,
                    document_type TEXT,
                    archive_template TEXT,
                    state TEXT NOT NULL,
                    reason TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL,
                    last_error TEXT,
                    inqom_document_id INTEGER,
                    archive_path TEXT,
                    deposited_at REAL NOT NULL,
                    submitted_at REAL NOT NULL,
                    transmitted_at REAL,
                    failed_at REAL
                );
                CREATE INDEX documents_pending ON documents (next_attempt_at)
                    WHERE state IN ('queued', 'retrying', 'sending');
                CREATE INDEX documents_by_state ON documents (state, seq);
                CREATE INDEX documents_by_dossier ON documents (dossier_id, seq);
                CREATE INDEX documents_sent_bytes ON documents (dossier_id, sha256) WHERE state = 'transmitted';
                CREATE TABLE document_history (
                    document_seq INTEGER NOT NULL,
                    at REAL NOT NULL,
                    event TEXT NOT NULL,
                    detail TEXT
                );
                CREATE INDEX document_history_by_document ON document_history (document_seq, at);
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    type TEXT NOT NULL,
                    at REAL NOT NULL,
                    data TEXT NOT NULL
                );
                CREATE INDEX events_by_time ON events (at);
                """),
        Migration(
            4, "collaborators and digests",
            sql: """
                CREATE TABLE collaborators (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    daily_digest INTEGER NOT NULL,
                    dossier_ids TEXT
                ) WITHOUT ROWID;
                CREATE TABLE digests_sent (
                    collaborator_id TEXT NOT NULL,
                    day TEXT NOT NULL,
                    sent_at REAL NOT NULL,
                    failures INTEGER NOT NULL,
                    PRIMARY KEY (collaborator_id, day)
                ) WITHOUT ROWID;
                CREATE INDEX documents_failed ON documents (failed_at) WHERE state = 'failed';
                """),
        // What the sender and status.summary read at every change, found
        // without scanning the documents: the due ones in sending order,
        // counts per state kept by triggers, the last success and error.
        Migration(
            5, "documents due, counts per state, last outcomes",
            sql: """
                DROP INDEX documents_pending;
                CREATE INDEX documents_due ON documents (next_attempt_at, seq) WHERE state IN ('queued', 'retrying');
                CREATE INDEX documents_transmitted ON documents (transmitted_at) WHERE transmitted_at IS NOT NULL;
                CREATE INDEX document_history_errors ON document_history (at) WHERE event IN ('retry_scheduled', 'failed');
                CREATE TABLE document_counts (state TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO document_counts (state, count) SELECT state, count(*) FROM documents GROUP BY state;
                CREATE TRIGGER documents_counted_insert AFTER INSERT ON documents BEGIN
                    INSERT INTO document_counts (state, count) VALUES (NEW.state, 1)
                        ON CONFLICT (state) DO UPDATE SET count = count + 1;
                END;
                CREATE TRIGGER documents_counted_delete AFTER DELETE ON documents BEGIN
                    UPDATE document_counts SET count = count - 1 WHERE state = OLD.state;
                END;
                CREATE TRIGGER documents_counted_update AFTER UPDATE OF state ON documents WHEN OLD.state IS NOT NEW.state BEGIN
                    UPDATE document_counts SET count = count - 1 WHERE state = OLD.state;
                    INSERT INTO document_counts (state, count) VALUES (NEW.state, 1)
                        ON CONFLICT (state) DO UPDATE SET count = count + 1;
                END;
                """),
        // At start, spool files that no document names are removed (a
        // crash between a document's last commit and its file's removal).
        Migration(
            6, "documents holding a spool file",
            sql: "CREATE INDEX documents_spooled ON documents (spool_name) WHERE spool_name IS NOT NULL;"),
        // When a wall-clock jump is noticed, only the attempts planned
        // before it move: one planned since is already in the new time.
        Migration(7, "when each attempt was planned", sql: "ALTER TABLE documents ADD COLUMN planned_at REAL;"),
        // Protocol version 2: one engine for many firms. Every row belongs to
        // a connector; a version-1 directory's state becomes "default".
        // Tables whose key gains the connector are rebuilt (SQLite cannot
        // change a primary key in place).
        Migration(
            8, "connectors",
            sql: """
                -- state: as status.summary gives it, kept by every write that can
                -- change it (NULL: not known yet, worked out at the next start).
                -- served: when the sender last took one of its documents, as a
                -- rising number (NULL: never); the least recently served goes first.
                CREATE TABLE connectors (
                    name TEXT PRIMARY KEY,
                    created_at REAL NOT NULL,
                    state TEXT,
                    served INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX connectors_by_state ON connectors (state, name);
                CREATE INDEX connectors_by_served ON connectors (served, name);
                INSERT INTO connectors (name, created_at)
                    SELECT 'default', (julianday('now') - 2440587.5) * 86400.0
                    WHERE EXISTS (SELECT 1 FROM settings WHERE key NOT LIKE 'digest.%') OR EXISTS (SELECT 1 FROM dossiers)
                        OR EXISTS (SELECT 1 FROM catalog_folders) OR EXISTS (SELECT 1 FROM rules)
                        OR EXISTS (SELECT 1 FROM documents) OR EXISTS (SELECT 1 FROM collaborators);

                CREATE TABLE settings_v2 (
                    connector TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (connector, key)
                ) WITHOUT ROWID;
                -- The digest schedule's day is the engine's own (connector ''), not a firm's.
                INSERT INTO settings_v2
                    SELECT CASE WHEN key LIKE 'digest.%' THEN '' ELSE 'default' END, key, value FROM settings;
                DROP TABLE settings;
                ALTER TABLE settings_v2 RENAME TO settings;

                CREATE TABLE dossiers_v2 (
                    connector TEXT NOT NULL,
                    id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    sort_key TEXT NOT NULL,
                    search_text TEXT NOT NULL,
                    attributes TEXT NOT NULL,
                    selected INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (connector, id)
                );
                INSERT INTO dossiers_v2 SELECT 'default', id, name, sort_key, search_text, attributes, selected FROM dossiers;
                DROP TABLE dossiers;
                ALTER TABLE dossiers_v2 RENAME TO dossiers;
                CREATE INDEX dossiers_by_name ON dossiers (connector, sort_key, id);
                CREATE INDEX dossiers_selected ON dossiers (connector, sort_key, id) WHERE selected = 1;

                CREATE TABLE catalog_folders_v2 (
                    connector TEXT NOT NULL,
                    path TEXT NOT NULL,
                    folded TEXT NOT NULL,
                    PRIMARY KEY (connector, path)
                ) WITHOUT ROWID;
                INSERT INTO catalog_folders_v2 SELECT 'default', path, folded FROM catalog_folders;
                DROP TABLE catalog_folders;
                ALTER TABLE catalog_folders_v2 RENAME TO catalog_folders;
                CREATE INDEX catalog_folders_folded ON catalog_folders (connector, folded);

                CREATE TABLE mapping_v2 (
                    connector TEXT NOT NULL,
                    dossier_id TEXT NOT NULL,
                    siret TEXT NOT NULL,
                    inqom_folder_id INTEGER NOT NULL,
                    inqom_folder_name TEXT NOT NULL,
                    PRIMARY KEY (connector, dossier_id)
                ) WITHOUT ROWID;
                INSERT INTO mapping_v2 SELECT 'default', dossier_id, siret, inqom_folder_id, inqom_folder_name FROM mapping;
                DROP TABLE mapping;
                ALTER TABLE mapping_v2 RENAME TO mapping;

                CREATE TABLE rules_v2 (
                    connector TEXT NOT NULL,
                    id TEXT NOT NULL,
                    deposit_path TEXT NOT NULL,
                    deposit_key TEXT NOT NULL,
                    document_type TEXT NOT NULL,
                    archive_path TEXT,
                    period TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (connector, id),
                    UNIQUE (connector, deposit_key, document_type)
                ) WITHOUT ROWID;
                INSERT INTO rules_v2 SELECT 'default', id, deposit_path, deposit_key, document_type, archive_path, period, created_at
                    FROM rules;
                DROP TABLE rules;
                ALTER TABLE rules_v2 RENAME TO rules;

                CREATE TABLE collaborators_v2 (
                    connector TEXT NOT NULL,
                    id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    daily_digest INTEGER NOT NULL,
                    dossier_ids TEXT,
                    PRIMARY KEY (connector, id)
                ) WITHOUT ROWID;
                INSERT INTO collaborators_v2 SELECT 'default', id, name, email, daily_digest, dossier_ids FROM collaborators;
                DROP TABLE collaborators;
                ALTER TABLE collaborators_v2 RENAME TO collaborators;

                CREATE TABLE digests_sent_v2 (
                    connector TEXT NOT NULL,
                    collaborator_id TEXT NOT NULL,
                    day TEXT NOT NULL,
                    sent_at REAL NOT NULL,
                    failures INTEGER NOT NULL,
                    PRIMARY KEY (connector, collaborator_id, day)
                ) WITHOUT ROWID;
                INSERT INTO digests_sent_v2 SELECT 'default', collaborator_id, day, sent_at, failures FROM digests_sent;
                DROP TABLE digests_sent;
                ALTER TABLE digests_sent_v2 RENAME TO digests_sent;

                -- Documents keep their seq (history rows and cursors name it).
                CREATE TABLE documents_v2 (
                    seq INTEGER PRIMARY KEY,
                    connector TEXT NOT NULL,
                    id TEXT NOT NULL,
                    dossier_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    file_name TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    spool_name TEXT,
                    rule_id TEXT,
                    document_type TEXT,
                    archive_template TEXT,
                    state TEXT NOT NULL,
                    reason TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL,
                    last_error TEXT,
                    inqom_document_id INTEGER,
                    archive_path TEXT,
                    deposited_at REAL NOT NULL,
                    submitted_at REAL NOT NULL,
                    transmitted_at REAL,
                    failed_at REAL,
                    planned_at REAL,
                    UNIQUE (connector, id)
                );
                INSERT INTO documents_v2 SELECT seq, 'default', id, dossier_id, path, file_name, size, sha256, spool_name, rule_id,
                    document_type, archive_template, state, reason, attempts, next_attempt_at, last_error, inqom_document_id,
                    archive_path, deposited_at, submitted_at, transmitted_at, failed_at, planned_at FROM documents;
                DROP TABLE documents;
                ALTER TABLE documents_v2 RENAME TO documents;
                CREATE INDEX documents_by_state ON documents (connector, state, seq);
                CREATE INDEX documents_by_dossier ON documents (connector, dossier_id, seq);
                CREATE INDEX documents_sent_bytes ON documents (connector, dossier_id, sha256) WHERE state = 'transmitted';
                CREATE INDEX documents_failed ON documents (connector, failed_at) WHERE state = 'failed';
                CREATE INDEX documents_due ON documents (connector, next_attempt_at, seq) WHERE state IN ('queued', 'retrying');
                CREATE INDEX documents_transmitted ON documents (connector, transmitted_at) WHERE transmitted_at IS NOT NULL;
                CREATE INDEX documents_spooled ON documents (spool_name) WHERE spool_name IS NOT NULL;
                -- At start, the uploads a stop interrupted, whatever their connector.
                CREATE INDEX documents_sending ON documents (seq) WHERE state = 'sending';

                CREATE TABLE document_counts_v2 (
                    connector TEXT NOT NULL,
                    state TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (connector, state)
                ) WITHOUT ROWID;
                INSERT INTO document_counts_v2 SELECT 'default', state, count FROM document_counts;
                DROP TABLE document_counts;
                ALTER TABLE document_counts_v2 RENAME TO document_counts;
                CREATE TRIGGER documents_counted_insert AFTER INSERT ON documents BEGIN
                    INSERT INTO document_counts (connector, state, count) VALUES (NEW.connector, NEW.state, 1)
                        ON CONFLICT (connector, state) DO UPDATE SET count = count + 1;
                END;
                CREATE TRIGGER documents_counted_delete AFTER DELETE ON documents BEGIN
                    UPDATE document_counts SET count = count - 1 WHERE connector = OLD.connector AND state = OLD.state;
                END;
                CREATE TRIGGER documents_counted_update AFTER UPDATE OF state ON documents WHEN OLD.state IS NOT NEW.state BEGIN
                    UPDATE document_counts SET count = count - 1 WHERE connector = OLD.connector AND state = OLD.state;
                    INSERT INTO document_counts (connector, state, count) VALUES (NEW.connector, NEW.state, 1)
                        ON CONFLICT (connector, state) DO UPDATE SET count = count + 1;
                END;

                ALTER TABLE events ADD COLUMN connector TEXT NOT NULL DEFAULT 'default';
                CREATE INDEX events_by_connector ON events (connector, seq);
                """),
        // status.documents pages a connector's documents in seq order;
        // without it, every one of that connector's rows was sorted for a page.
        Migration(9, "documents in order per connector", sql: "CREATE INDEX documents_by_connector ON documents (connector, seq);"),
        // Within a connector, dossiers take turns: a new document of one
        // dossier does not wait behind another dossier's backlog.
        Migration(
            10, "dossiers take turns",
            sql: """
                -- The dossiers with documents waiting to be sent (queued or
                -- retrying), and when the sender last took one of theirs
                -- (0: not since they began waiting), per connector.
                CREATE TABLE dossier_turns (
                    connector TEXT NOT NULL,
                    dossier_id TEXT NOT NULL,
                    served INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (connector, dossier_id)
                ) WITHOUT ROWID;
                CREATE INDEX dossier_turns_by_served ON dossier_turns (connector, served, dossier_id);
                CREATE INDEX documents_due_by_dossier ON documents (connector, dossier_id, next_attempt_at, seq)
                    WHERE state IN ('queued', 'retrying');
                INSERT INTO dossier_turns (connector, dossier_id)
                    SELECT DISTINCT connector, dossier_id FROM documents WHERE state IN ('queued', 'retrying');
                CREATE TRIGGER dossier_turns_insert AFTER INSERT ON documents WHEN NEW.state IN ('queued', 'retrying') BEGIN
                    INSERT INTO dossier_turns (connector, dossier_id) VALUES (NEW.connector, NEW.dossier_id) ON CONFLICT DO NOTHING;
                END;
                CREATE TRIGGER dossier_turns_waiting AFTER UPDATE OF state ON documents
                WHEN NEW.state IN ('queued', 'retrying') AND OLD.state NOT IN ('queued', 'retrying') BEGIN
                    INSERT INTO dossier_turns (connector, dossier_id) VALUES (NEW.connector, NEW.dossier_id) ON CONFLICT DO NOTHING;
                END;
                CREATE TRIGGER dossier_turns_done AFTER UPDATE OF state ON documents
                WHEN OLD.state IN ('queued', 'retrying') AND NEW.state NOT IN ('queued', 'retrying')
                    AND NOT EXISTS (SELECT 1 FROM documents WHERE connector = NEW.connector AND dossier_id = NEW.dossier_id
                        AND state IN ('queued', 'retrying')) BEGIN
                    DELETE FROM dossier_turns WHERE connector = NEW.connector AND dossier_id = NEW.dossier_id;
                END;
                CREATE TRIGGER dossier_turns_deleted AFTER DELETE ON documents
                WHEN OLD.state IN ('queued', 'retrying')
                    AND NOT EXISTS (SELECT 1 FROM documents WHERE connector = OLD.connector AND dossier_id = OLD.dossier_id
                        AND state IN ('queued', 'retrying')) BEGIN
                    DELETE FROM dossier_turns WHERE connector = OLD.connector AND dossier_id = OLD.dossier_id;
                END;
                """),
    ]
}
