import Foundation
import Postgres

/// `SendingStore` on the deployment's PostgreSQL database, shared by every
/// engine. A claimed document carries a lease (`node`, until now +
/// `leaseSeconds`), taken with `FOR UPDATE SKIP LOCKED` so that two engines
/// never claim the same one; a lease that ran out is given back to the
/// queue by the next claim of any engine. Connectors and dossiers take
/// turns as on SQLite; marking one served never waits for another engine
/// (its mark is skipped instead), so that claims never wait on each other.
struct PostgresSendingStore: SendingStore {
    let access: PostgresAccess
    /// This engine's name in leases.
    let node: String
    let leaseSeconds: TimeInterval

    private static let waiting = "state IN (\(DocumentState.queued.sql), \(DocumentState.retrying.sql))"

    func claimDue(limit: Int, now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) async throws -> [Outgoing] {
        try await access.transaction { try claimDue($0, limit: limit, now: now, admit: admit) }
    }

    func claimNextBlocking(now: Date, admit: @escaping @Sendable (ConnectorName) -> Bool) throws -> Outgoing? {
        try access.transactionBlocking { try claimDue($0, limit: 1, now: now, admit: admit).first }
    }

    func recordBlocking(
        _ change: DocumentChange, of document: Outgoing, at now: Date, claimNext admit: (@Sendable (ConnectorName) -> Bool)?
    ) throws -> Outgoing? {
        try access.transactionBlocking { connection in
            let event = try Self.record(change, of: document, at: now, connection)
            let next = try admit.flatMap { try claimDue(connection, limit: 1, now: now, admit: $0).first }
            // Last: the event sequence stays locked from here to the commit.
            if let event { try connection.appendEvent(event.type, of: document.connector, at: now, event.data) }
            return next
        }
    }

    /// The earliest planned attempt of an active connector's document, or
    /// the end of another engine's lease (its documents are due then if it
    /// has not renewed it).
    func nextPlannedAttempt() async throws -> Date? {
        try await access.transaction { connection in
            try connection.execute(
                """
                SELECT least(
                    (SELECT min(due.at) FROM connectors c CROSS JOIN LATERAL (
                        SELECT min(d.next_attempt_at) AS at FROM documents d
                        WHERE d.connector = c.name AND d.\(Self.waiting) AND d.next_attempt_at IS NOT NULL) due
                     WHERE c.state = $1),
                    (SELECT min(lease_until) FROM documents WHERE state = \(DocumentState.sending.sql) AND lease_owner <> $2))
                """, [ConnectorState.active.rawValue, node]
            ).map { try $0.optionalDouble(0).map(Date.init(timeIntervalSince1970:)) }.first ?? nil
        }
    }

    func movePlannedAttempts(by seconds: TimeInterval, plannedBefore cutoff: Date) async throws {
        try await access.transaction { connection in
            try connection.execute(
                """
                UPDATE documents SET next_attempt_at = next_attempt_at + $1, planned_at = planned_at + $1
                WHERE \(Self.waiting) AND next_attempt_at IS NOT NULL AND (planned_at IS NULL OR planned_at < $2)
                """, [String(seconds), cutoff.pg])
        }
    }

    func retryNow(at now: Date) async throws {
        try await access.transaction { connection in
            try connection.execute(
                """
                UPDATE documents SET next_attempt_at = $1, planned_at = $1
                WHERE state = \(DocumentState.retrying.sql) AND next_attempt_at > $1
                """, [now.pg])
        }
    }

    /// This engine's own uploads, cut by its stop or crash (other engines'
    /// come back when their leases run out).
    func requeueInterrupted(at now: Date) async throws -> Int {
        try await access.transaction { connection in
            try connection.execute(
                """
                WITH cut AS (
                    UPDATE documents SET state = CASE WHEN attempts = 0 THEN $1 ELSE $2 END,
                        next_attempt_at = $3, planned_at = $3, lease_owner = NULL, lease_until = NULL
                    WHERE state = \(DocumentState.sending.sql) AND (lease_owner = $4 OR lease_owner IS NULL)
                    RETURNING 1)
                SELECT count(*) FROM cut
                """, [DocumentState.queued.rawValue, DocumentState.retrying.rawValue, now.pg, node]
            ).map { Int(try $0.int(0)) }.first ?? 0
        }
    }

    private func claimDue(
        _ connection: PostgresConnection, limit: Int, now: Date, admit: (ConnectorName) -> Bool
    ) throws -> [Outgoing] {
        try Self.takeBackExpiredLeases(connection, at: now)
        var claimed: [Outgoing] = []
        var passed: [String] = []
        while claimed.count < limit {
            let found = try connection.execute(
                """
                SELECT c.name FROM connectors c
                WHERE c.state = $1 AND c.name NOT IN (SELECT jsonb_array_elements_text($2::jsonb))
                    AND EXISTS (SELECT 1 FROM documents d WHERE d.connector = c.name AND d.\(Self.waiting) AND d.next_attempt_at <= $3)
                ORDER BY c.served NULLS FIRST, c.name LIMIT 1
                """,
                [ConnectorState.active.rawValue, String(decoding: try JSONEncoder().encode(passed), as: UTF8.self), now.pg]
            ).map { try $0.text(0) }
            guard let name = found.first else { break }
            // Every due document of it locked by other engines' claims, or no place for it here: the next connector.
            guard let connector = ConnectorName(name), let document = try lockOldestDue(connection, of: connector, now: now),
                admit(connector)
            else {
                passed.append(name)
                continue
            }
            try connection.execute(
                "UPDATE documents SET state = $1, lease_owner = $2, lease_until = $3 WHERE seq = $4",
                [DocumentState.sending.rawValue, node, now.addingTimeInterval(leaseSeconds).pg, String(document.seq)])
            try connection.execute(
                """
                UPDATE dossier_turns SET served = nextval('serve_order') WHERE (connector, dossier_id) IN (
                    SELECT connector, dossier_id FROM dossier_turns WHERE connector = $1 AND dossier_id = $2 FOR UPDATE SKIP LOCKED)
                """, [name, document.dossierID])
            try connection.execute(
                """
                UPDATE connectors SET served = nextval('serve_order')
                WHERE name IN (SELECT name FROM connectors WHERE name = $1 FOR UPDATE SKIP LOCKED)
                """, [name])
            claimed.append(document)
        }
        return claimed
    }

    /// The oldest due document of the connector's dossier served least
    /// recently, among those with one due that no other claim holds; locked
    /// until the transaction ends.
    private func lockOldestDue(_ connection: PostgresConnection, of connector: ConnectorName, now: Date) throws -> Outgoing? {
        try connection.execute(
            """
            SELECT d.seq, d.id, d.dossier_id, d.path, d.file_name, d.spool_name, d.document_type, d.archive_template, d.attempts,
                (SELECT m.inqom_folder_id FROM mapping m WHERE m.connector = d.connector AND m.dossier_id = d.dossier_id)
            FROM dossier_turns t CROSS JOIN LATERAL (
                SELECT * FROM documents d
                WHERE d.connector = t.connector AND d.dossier_id = t.dossier_id AND d.\(Self.waiting) AND d.next_attempt_at <= $2
                ORDER BY d.next_attempt_at, d.seq LIMIT 1 FOR UPDATE SKIP LOCKED) d
            WHERE t.connector = $1
            ORDER BY t.served, t.dossier_id LIMIT 1
            """, [connector.rawValue, now.pg]
        ).map { row in
            Outgoing(
                connector: connector, seq: try row.int(0), id: try row.text(1), dossierID: try row.text(2), path: try row.text(3),
                fileName: try row.text(4), spoolName: row.optionalText(5), documentType: try row.word(6),
                archiveTemplate: row.optionalText(7), attempts: Int(try row.int(8)), inqomFolderID: try row.optionalInt(9))
        }.first
    }

    /// Documents whose engine let its lease run out (it died, or lost the
    /// database) go back to the queue, due at once, with a history line.
    /// Those another claim is taking back already are left to it.
    private static func takeBackExpiredLeases(_ connection: PostgresConnection, at now: Date) throws {
        try connection.execute(
            """
            WITH expired AS (
                SELECT seq, lease_owner FROM documents
                WHERE state = \(DocumentState.sending.sql) AND lease_until <= $1 FOR UPDATE SKIP LOCKED),
            taken AS (
                UPDATE documents d SET state = CASE WHEN attempts = 0 THEN $2 ELSE $3 END,
                    next_attempt_at = $1, planned_at = $1, lease_owner = NULL, lease_until = NULL
                FROM expired WHERE d.seq = expired.seq
                RETURNING d.seq, expired.lease_owner)
            INSERT INTO document_history (document_seq, at, event, detail)
                SELECT seq, $1, $4, 'the lease of engine ' || lease_owner || ' ran out' FROM taken
            """, [now.pg, DocumentState.queued.rawValue, DocumentState.retrying.rawValue, HistoryEvent.requeued.rawValue])
    }

    /// Records the change and its history line; says the event to append.
    private static func record(
        _ change: DocumentChange, of document: Outgoing, at now: Date, _ connection: PostgresConnection
    ) throws -> (type: EventType, data: [String: EventValue])? {
        let at = now.pg
        let seq = String(document.seq)
        let updated: PostgresRows
        switch change {
        case .transmitted(let inqomDocumentID, _, let archivePath):
            updated = try connection.execute(
                """
                UPDATE documents SET state = $1, attempts = attempts + 1, next_attempt_at = NULL,
                    inqom_document_id = $2, archive_path = $3, transmitted_at = $4, spool_name = NULL, last_error = NULL,
                    lease_owner = NULL, lease_until = NULL
                WHERE seq = $5 RETURNING 1
                """, [DocumentState.transmitted.rawValue, String(inqomDocumentID), archivePath, at, seq])
        case .retrying(let attempts, let next, let message, let status):
            let lastError = DocumentChange.lastError(reason: .inqomUnavailable, message: message, httpStatus: status)
            updated = try connection.execute(
                """
                UPDATE documents SET state = $1, attempts = $2, next_attempt_at = $3, planned_at = $4, last_error = $5,
                    lease_owner = NULL, lease_until = NULL
                WHERE seq = $6 RETURNING 1
                """, [DocumentState.retrying.rawValue, String(attempts), next.pg, at, lastError, seq])
        case .failed(let reason, let message, let status, let spent):
            let lastError = DocumentChange.lastError(reason: reason, message: message, httpStatus: status)
            updated = try connection.execute(
                """
                UPDATE documents SET state = $1, reason = $2, attempts = attempts + $3, next_attempt_at = NULL,
                    last_error = $4, failed_at = $5, lease_owner = NULL, lease_until = NULL
                WHERE seq = $6 RETURNING 1
                """, [DocumentState.failed.rawValue, reason.rawValue, String(spent), lastError, at, seq])
        case .requeued(let date, _):
            updated = try connection.execute(
                """
                UPDATE documents SET state = CASE WHEN attempts = 0 THEN $1 ELSE $2 END, next_attempt_at = $3, planned_at = $4,
                    lease_owner = NULL, lease_until = NULL
                WHERE seq = $5 RETURNING 1
                """, [DocumentState.queued.rawValue, DocumentState.retrying.rawValue, date.pg, at, seq])
        }
        // The document's connector was removed while it was being sent: nothing of that firm is written again.
        guard !updated.rows.isEmpty else { return nil }
        let history = change.history
        try connection.addHistory(document.seq, at: now, event: history.event, detail: history.detail)
        return change.event(of: document)
    }
}
