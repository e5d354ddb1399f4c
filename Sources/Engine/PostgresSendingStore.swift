import Foundation
import Postgres
import Store

/// `SendingStore` on the deployment's PostgreSQL database, shared by every
/// engine. A claimed document carries a lease (`node`, until now +
/// `leaseSeconds`), taken with `FOR UPDATE SKIP LOCKED` so that two engines
/// never claim the same one; a lease that ran out is given back to the
/// queue by the next claim of any engine. Connectors and dossiers take
/// turns as on SQLite; marking a dossier served never waits for another
/// engine (its mark is skipped instead). Claims of one connector take its
/// row in turn, to count its uploads under way across the engines.
struct PostgresSendingStore: SendingStore {
    let storage: PostgresAccess
    /// This engine's name in leases.
    let node: String
    let leaseSeconds: TimeInterval
    /// `--connector-workers`, for the deployment: uploads of one connector
    /// under way at once, whichever engines make them.
    let connectorWorkers: Int
    /// After the database starts, how long every lease counts toward
    /// `connectorWorkers` whether or not its engine shows its presence: the
    /// engines connect again within 5 s (their listener's longest wait).
    var presenceGrace: TimeInterval = 10

    private static let waiting = "state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql))"

    func claimDue(limit: Int, now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) async throws -> [Outgoing] {
        try await storage.write { try claimDue($0, limit: limit, now: now, admit: admit) }
    }

    func claimNextBlocking(now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) throws -> Outgoing? {
        try storage.writeBlocking { try claimDue($0, limit: 1, now: now, admit: admit).first }
    }

    func recordBlocking(
        _ change: DocumentChange, of document: Outgoing, at now: Date, claimNext admit: (@Sendable (ConnectorName) -> Bool)?
    ) throws -> Outgoing? {
        try storage.writeBlocking { connection in
            try connection.record(change, of: document, at: now, leasedBy: node) {
                try admit.flatMap { try claimDue(connection, limit: 1, now: now, admit: $0).first }
            }
        }
    }

    /// The earliest planned attempt of an active connector's document, or
    /// the end of another engine's lease (its documents are due then if it
    /// has not renewed it).
    func nextPlannedAttempt() async throws -> Date? {
        try await storage.read { [node] connection in
            try connection.rows(
                """
                SELECT least(
                    (SELECT min(due.at) FROM connectors c CROSS JOIN LATERAL (
                        SELECT min(d.next_attempt_at) AS at FROM documents d
                        WHERE d.connector = c.name AND d.\(Self.waiting) AND d.next_attempt_at IS NOT NULL) due
                     WHERE c.state = ?1),
                    (SELECT min(lease_until) FROM documents WHERE state = \(DocumentState.sending.sql) AND lease_owner <> ?2))
                """, [.word(ConnectorState.active), .text(node)]
            ) { try $0.optionalDouble(0).map(Date.init(timeIntervalSince1970:)) }.first ?? nil
        }
    }

    /// One engine's clock jumped, not the deployment's: the plans stay.
    func movePlannedAttempts(by seconds: TimeInterval, plannedBefore cutoff: Date) async throws -> Bool { false }

    func retryNow(at now: Date) async throws {
        try await storage.write { try $0.retryNow(at: now) }
    }

    /// This engine's own uploads, cut by its stop or crash (other engines'
    /// come back when their leases run out).
    func requeueInterrupted(at now: Date) async throws -> Int {
        try await storage.write { [node] connection in
            try connection.run(
                """
                UPDATE documents SET state = CASE WHEN attempts = 0 THEN ?1 ELSE ?2 END,
                    next_attempt_at = ?3, planned_at = ?3, lease_owner = NULL, lease_until = NULL
                WHERE state = \(DocumentState.sending.sql) AND (lease_owner = ?4 OR lease_owner IS NULL)
                """, [.word(DocumentState.queued), .word(DocumentState.retrying), .real(now.timeIntervalSince1970), .text(node)])
        }
    }

    /// Keeps this engine's leases for another `leaseSeconds` from `now`:
    /// its uploads under way stay its own. Says how many.
    func renewLeases(at now: Date) async throws -> Int {
        try await storage.write { [node, leaseSeconds] connection in
            try connection.run(
                "UPDATE documents SET lease_until = ? WHERE state = \(DocumentState.sending.sql) AND lease_owner = ?",
                [.real(now.timeIntervalSince1970 + leaseSeconds), .text(node)])
        }
    }

    private func claimDue(_ connection: any SQLConnection, limit: Int, now: Date, admit: (ConnectorName) -> Bool) throws -> [Outgoing] {
        let at = SQLValue.real(now.timeIntervalSince1970)
        try Self.takeBackExpiredLeases(connection, at: at)
        var claimed: [Outgoing] = []
        var passed: [String] = []
        while claimed.count < limit {
            let found = try connection.rows(
                """
                SELECT c.name FROM connectors c
                WHERE c.state = ?1 AND c.name NOT IN (\(connection.dialect.jsonTextElements("?2")))
                    AND EXISTS (SELECT 1 FROM documents d WHERE d.connector = c.name AND d.\(Self.waiting) AND d.next_attempt_at <= ?3)
                ORDER BY c.served NULLS FIRST, c.name LIMIT 1
                """, [.word(ConnectorState.active), .text(String(decoding: try JSONEncoder().encode(passed), as: UTF8.self)), at]
            ) { try $0.text(0) }
            guard let name = found.first else { break }
            // Every place of it taken across the engines, every due document of it locked by other
            // engines' claims, or no place for it here: the next connector.
            guard let connector = ConnectorName(name), try placeFree(connection, for: connector),
                let document = try Self.lockOldestDue(connection, of: connector, at: at), admit(connector)
            else {
                passed.append(name)
                continue
            }
            try connection.run(
                "UPDATE documents SET state = ?, lease_owner = ?, lease_until = ? WHERE seq = ?",
                [.word(DocumentState.sending), .text(node), .real(now.timeIntervalSince1970 + leaseSeconds), .integer(document.seq)])
            try connection.run(
                """
                UPDATE dossier_turns SET served = nextval('serve_order') WHERE (connector, dossier_id) IN (
                    SELECT connector, dossier_id FROM dossier_turns WHERE connector = ? AND dossier_id = ? FOR UPDATE SKIP LOCKED)
                """, [connector.sql, .text(document.dossierID)])
            try connection.run("UPDATE connectors SET served = nextval('serve_order') WHERE name = ?", [connector.sql])
            claimed.append(document)
        }
        return claimed
    }

    /// Whether the connector has fewer uploads under way than
    /// `connectorWorkers`, across the engines. Its row stays locked until
    /// the claim commits: two engines never both take its last place. (A
    /// claim never waits for anything else, so no other waits on it long.)
    /// The leases of an engine that died (its presence gone) take no place:
    /// nothing uploads them, and the others go on at full strength while
    /// those leases run out.
    private func placeFree(_ connection: any SQLConnection, for connector: ConnectorName) throws -> Bool {
        try connection.run("SELECT 1 FROM connectors WHERE name = ? FOR UPDATE", [connector.sql])
        return try connection.count(
            """
            SELECT count(*) FROM documents d WHERE d.connector = ?1 AND d.state = \(DocumentState.sending.sql)
                AND (d.lease_owner = ?2 OR pg_postmaster_start_time() > now() - make_interval(secs => ?3)
                    OR \(PostgresListener.presenceHeld("d.lease_owner")))
            """, [connector.sql, .text(node), .real(presenceGrace)]
        ) < connectorWorkers
    }

    /// The oldest due document of the connector's dossier served least
    /// recently, among those with one due that no other claim holds; locked
    /// until the transaction ends.
    private static func lockOldestDue(_ connection: any SQLConnection, of connector: ConnectorName, at: SQLValue) throws -> Outgoing? {
        try connection.rows(
            """
            SELECT d.seq, d.id, d.dossier_id, d.path, d.file_name, d.spool_name, d.document_type, d.archive_template, d.attempts,
                (SELECT m.inqom_folder_id FROM mapping m WHERE m.connector = d.connector AND m.dossier_id = d.dossier_id)
            FROM dossier_turns t CROSS JOIN LATERAL (
                SELECT * FROM documents d
                WHERE d.connector = t.connector AND d.dossier_id = t.dossier_id AND d.\(waiting) AND d.next_attempt_at <= ?2
                ORDER BY d.next_attempt_at, d.seq LIMIT 1 FOR UPDATE SKIP LOCKED) d
            WHERE t.connector = ?1
            ORDER BY t.served, t.dossier_id LIMIT 1
            """, [connector.sql, at]
        ) { row in
            Outgoing(
                connector: connector, seq: try row.int(0), id: try row.text(1), dossierID: try row.text(2), path: try row.text(3),
                fileName: try row.text(4), spoolName: try row.optionalText(5), documentType: try row.word(6),
                archiveTemplate: try row.optionalText(7), attempts: Int(try row.int(8)), inqomFolderID: try row.optionalInt(9))
        }.first
    }

    /// Documents whose engine let its lease run out (it died, or lost the
    /// database) go back to the queue, due at once, with a history line.
    /// Those another claim is taking back already are left to it.
    private static func takeBackExpiredLeases(_ connection: any SQLConnection, at: SQLValue) throws {
        try connection.run(
            """
            WITH expired AS (
                SELECT seq, lease_owner FROM documents
                WHERE state = \(DocumentState.sending.sql) AND lease_until <= ?1 FOR UPDATE SKIP LOCKED),
            taken AS (
                UPDATE documents d SET state = CASE WHEN attempts = 0 THEN ?2 ELSE ?3 END,
                    next_attempt_at = ?1, planned_at = ?1, lease_owner = NULL, lease_until = NULL
                FROM expired WHERE d.seq = expired.seq
                RETURNING d.seq, expired.lease_owner)
            INSERT INTO document_history (document_seq, at, event, detail)
                SELECT seq, ?1, ?4, 'the lease of engine ' || lease_owner || ' ran out' FROM taken
            """, [at, .word(DocumentState.queued), .word(DocumentState.retrying), .word(HistoryEvent.requeued)])
    }
}
