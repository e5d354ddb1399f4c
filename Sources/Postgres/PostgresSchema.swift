import Store

/// The engine's schema on PostgreSQL: the tables of SQLite's `Schema` as
/// they stand after its migrations, plus what several engines need to share
/// them (leases on documents being sent, one commit-ordered event sequence,
/// document bytes in the database). Times are seconds since 1970, as on
/// SQLite, from the engines' clocks. Text that lists are ordered by, or
/// that is compared as a range, compares byte by byte (`COLLATE "C"`), as
/// on SQLite, whatever the database's locale. Append new steps; never edit
/// one that has shipped.
public enum PostgresSchema {
    public static let migrations: [Migration] = [
        Migration(
            1, "the engine's tables",
            sql: """
                -- Connectors and dossiers take turns in the order of one sequence:
                -- the least recently served goes first.
                CREATE SEQUENCE serve_order;

                CREATE TABLE connectors (
                    name text COLLATE "C" PRIMARY KEY,
                    created_at double precision NOT NULL,
                    state text,
                    served bigint
                );
                CREATE INDEX connectors_by_state ON connectors (state, name);
                CREATE INDEX connectors_by_served ON connectors (served NULLS FIRST, name);

                CREATE TABLE settings (
                    connector text NOT NULL,
                    key text NOT NULL,
                    value text NOT NULL,
                    PRIMARY KEY (connector, key)
                );

                CREATE TABLE dossiers (
                    connector text NOT NULL,
                    id text COLLATE "C" NOT NULL,
                    name text NOT NULL,
                    sort_key text COLLATE "C" NOT NULL,
                    search_text text NOT NULL,
                    attributes text NOT NULL,
                    selected integer NOT NULL DEFAULT 0,
                    PRIMARY KEY (connector, id)
                );
                CREATE INDEX dossiers_by_name ON dossiers (connector, sort_key, id);
                CREATE INDEX dossiers_selected ON dossiers (connector, sort_key, id) WHERE selected = 1;

                -- Counts each change of a connector's catalog: an engine's search
                -- index loaded at an older count loads again.
                CREATE TABLE catalog_versions (
                    connector text PRIMARY KEY,
                    version bigint NOT NULL
                );

                CREATE TABLE catalog_folders (
                    connector text NOT NULL,
                    path text NOT NULL,
                    folded text COLLATE "C" NOT NULL,
                    PRIMARY KEY (connector, path)
                );
                CREATE INDEX catalog_folders_folded ON catalog_folders (connector, folded);

                CREATE TABLE mapping (
                    connector text NOT NULL,
                    dossier_id text NOT NULL,
                    siret text NOT NULL,
                    inqom_folder_id bigint NOT NULL,
                    inqom_folder_name text NOT NULL,
                    PRIMARY KEY (connector, dossier_id)
                );

                CREATE TABLE rules (
                    connector text NOT NULL,
                    id text COLLATE "C" NOT NULL,
                    deposit_path text NOT NULL,
                    deposit_key text NOT NULL,
                    document_type text NOT NULL,
                    archive_path text,
                    period text NOT NULL,
                    created_at text COLLATE "C" NOT NULL,
                    PRIMARY KEY (connector, id),
                    UNIQUE (connector, deposit_key, document_type)
                );

                CREATE TABLE collaborators (
                    connector text NOT NULL,
                    id text COLLATE "C" NOT NULL,
                    name text NOT NULL,
                    email text NOT NULL,
                    daily_digest integer NOT NULL,
                    dossier_ids text,
                    PRIMARY KEY (connector, id)
                );

                CREATE TABLE digests_sent (
                    connector text NOT NULL,
                    collaborator_id text NOT NULL,
                    day text NOT NULL,
                    sent_at double precision NOT NULL,
                    failures integer NOT NULL,
                    PRIMARY KEY (connector, collaborator_id, day)
                );

                -- lease_owner and lease_until: the engine sending the document,
                -- and until when; past it, any engine may send it again.
                CREATE TABLE documents (
                    seq bigserial PRIMARY KEY,
                    connector text NOT NULL,
                    id text NOT NULL,
                    dossier_id text NOT NULL,
                    path text COLLATE "C" NOT NULL,
                    file_name text NOT NULL,
                    size bigint NOT NULL,
                    sha256 text NOT NULL,
                    spool_name text,
                    rule_id text,
                    document_type text,
                    archive_template text,
                    state text NOT NULL,
                    reason text,
                    attempts integer NOT NULL DEFAULT 0,
                    next_attempt_at double precision,
                    last_error text,
                    inqom_document_id bigint,
                    archive_path text,
                    deposited_at double precision NOT NULL,
                    submitted_at double precision NOT NULL,
                    transmitted_at double precision,
                    failed_at double precision,
                    planned_at double precision,
                    lease_owner text,
                    lease_until double precision,
                    UNIQUE (connector, id)
                );
                CREATE INDEX documents_by_connector ON documents (connector, seq);
                CREATE INDEX documents_by_state ON documents (connector, state, seq);
                CREATE INDEX documents_by_dossier ON documents (connector, dossier_id, seq);
                CREATE INDEX documents_sent_bytes ON documents (connector, dossier_id, sha256) WHERE state = 'transmitted';
                CREATE INDEX documents_failed ON documents (connector, failed_at) WHERE state = 'failed';
                CREATE INDEX documents_due ON documents (connector, next_attempt_at, seq) WHERE state IN ('queued', 'retrying');
                CREATE INDEX documents_due_by_dossier ON documents (connector, dossier_id, next_attempt_at, seq)
                    WHERE state IN ('queued', 'retrying');
                CREATE INDEX documents_transmitted ON documents (connector, transmitted_at) WHERE transmitted_at IS NOT NULL;
                CREATE INDEX documents_spooled ON documents (spool_name) WHERE spool_name IS NOT NULL;
                CREATE INDEX documents_sending ON documents (lease_until) WHERE state = 'sending';

                -- A queued document's bytes, in parts of at most 1 MiB, written
                -- and read one part at a time; gone once Inqom has them.
                CREATE TABLE document_parts (
                    document_seq bigint NOT NULL REFERENCES documents (seq) ON DELETE CASCADE,
                    part integer NOT NULL,
                    bytes bytea NOT NULL,
                    PRIMARY KEY (document_seq, part)
                );
                -- Documents (PDFs, images) are compressed already: not tried again.
                ALTER TABLE document_parts ALTER COLUMN bytes SET STORAGE EXTERNAL;

                -- rowid: the order lines were written in, named as SQLite names its own.
                CREATE TABLE document_history (
                    document_seq bigint NOT NULL,
                    at double precision NOT NULL,
                    event text NOT NULL,
                    detail text,
                    rowid bigint GENERATED ALWAYS AS IDENTITY
                );
                CREATE INDEX document_history_by_document ON document_history (document_seq, at);
                CREATE INDEX document_history_errors ON document_history (at) WHERE event IN ('retry_scheduled', 'failed');

                -- Documents per state, as changes appended by a trigger and
                -- summed when read: a counter row would be a lock every engine's
                -- intake and claims queue behind (and deadlock across). Folded
                -- into one row per state from time to time.
                CREATE TABLE document_count_changes (
                    connector text NOT NULL,
                    state text NOT NULL,
                    change bigint NOT NULL
                );
                CREATE INDEX document_count_changes_by_connector ON document_count_changes (connector, state);
                CREATE FUNCTION documents_counted() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP IN ('UPDATE', 'DELETE') THEN
                        INSERT INTO document_count_changes VALUES (OLD.connector, OLD.state, -1);
                    END IF;
                    IF TG_OP IN ('INSERT', 'UPDATE') THEN
                        INSERT INTO document_count_changes VALUES (NEW.connector, NEW.state, 1);
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER documents_counted AFTER INSERT OR DELETE ON documents
                    FOR EACH ROW EXECUTE FUNCTION documents_counted();
                CREATE TRIGGER documents_counted_update AFTER UPDATE OF state ON documents
                    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION documents_counted();

                -- The dossiers with documents waiting (queued or retrying), and
                -- when the sender last took one of theirs (0: not since they
                -- began waiting). A dossier's row is added under a lock on that
                -- dossier (shared: documents added together do not wait for each
                -- other), and removed only by a transaction that got the lock
                -- alone without waiting and then sees no document of it waiting: an
                -- engine taking its last waiting document while another adds
                -- one never leaves it waiting without a row, and no transaction
                -- waits for another's dossiers in an order that could deadlock
                -- (claims mark a row served only if no one else holds it).
                -- A row left for a dossier no longer waiting is skipped by claims
                -- and removed at its next change.
                CREATE TABLE dossier_turns (
                    connector text NOT NULL,
                    dossier_id text COLLATE "C" NOT NULL,
                    served bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (connector, dossier_id)
                );
                CREATE INDEX dossier_turns_by_served ON dossier_turns (connector, served, dossier_id);
                CREATE FUNCTION dossier_turns_follow() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP <> 'DELETE' AND NEW.state IN ('queued', 'retrying')
                        AND (TG_OP = 'INSERT' OR OLD.state NOT IN ('queued', 'retrying')) THEN
                        PERFORM pg_advisory_xact_lock_shared(hashtextextended(NEW.connector || '/' || NEW.dossier_id, 0));
                        INSERT INTO dossier_turns (connector, dossier_id) VALUES (NEW.connector, NEW.dossier_id)
                            ON CONFLICT DO NOTHING;
                    ELSIF TG_OP <> 'INSERT' AND OLD.state IN ('queued', 'retrying')
                        AND (TG_OP = 'DELETE' OR NEW.state NOT IN ('queued', 'retrying'))
                        AND pg_try_advisory_xact_lock(hashtextextended(OLD.connector || '/' || OLD.dossier_id, 0)) THEN
                        -- A statement after the lock: it sees what the lock's last holder
                        -- committed. A row another claim is marking served is left.
                        DELETE FROM dossier_turns t WHERE (t.connector, t.dossier_id) IN (
                                SELECT connector, dossier_id FROM dossier_turns
                                WHERE connector = OLD.connector AND dossier_id = OLD.dossier_id FOR UPDATE SKIP LOCKED)
                            AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.connector = OLD.connector
                                AND d.dossier_id = OLD.dossier_id AND d.state IN ('queued', 'retrying'));
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER dossier_turns_follow AFTER INSERT OR DELETE ON documents
                    FOR EACH ROW EXECUTE FUNCTION dossier_turns_follow();
                CREATE TRIGGER dossier_turns_follow_update AFTER UPDATE OF state ON documents
                    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION dossier_turns_follow();

                -- Each connector's Inqom token, sealed with the master key: one
                -- engine renews it, the others take it from here.
                CREATE TABLE shared_tokens (
                    connector text PRIMARY KEY,
                    sealed text NOT NULL
                );

                -- The next free slot of each connector's requests to Inqom, on
                -- the database's clock: every engine's requests take their
                -- slots here, and together keep --inqom-max-rps.
                CREATE TABLE request_slots (
                    connector text PRIMARY KEY,
                    next_slot double precision NOT NULL
                );

                -- Events take their seq from one row, locked until the writing
                -- transaction commits: a seq is never handed out while a lower
                -- one is still uncommitted, so readers never see a gap later filled.
                CREATE TABLE events (
                    seq bigint PRIMARY KEY,
                    connector text NOT NULL,
                    type text NOT NULL,
                    at double precision NOT NULL,
                    data text NOT NULL
                );
                CREATE INDEX events_by_time ON events (at);
                CREATE INDEX events_by_connector ON events (connector, seq);
                CREATE TABLE event_seq (
                    id integer PRIMARY KEY CHECK (id = 1),
                    last bigint NOT NULL
                );
                INSERT INTO event_seq VALUES (1, 0);
                """)
    ]
}
