import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// Every row belongs to one connector: two firms on one database, with the
/// same ids everywhere, each see only their own.
struct ConnectorScopeTests {
    /// The stores of one connector on a shared database.
    private struct Firm {
        let catalog: SQLCatalogStore
        let connector: SQLConnectorStore
        let rules: SQLRuleStore
        let intake: SQLIntakeStore
        let documents: SQLDocumentStore
        let digest: SQLDigestStore
        let name: ConnectorName
        let sending: SQLiteSendingStore

        /// Intake's rows are what these tests look at: the spool holds no bytes for them.
        private static let spool = Result { try Spool(directory: TemporaryDirectory.make(prefix: "scope-spool")) }

        init(_ name: String, on storage: StorageAccess) throws {
            let connector = ConnectorName(name)!
            let search = DossierSearch(of: connector)
            catalog = SQLCatalogStore(storage: storage, search: search)
            self.connector = SQLConnectorStore(storage: storage, connector: connector, search: search)
            rules = SQLRuleStore(storage: storage, connector: connector)
            intake = SQLIntakeStore(storage: storage, connector: connector, bytes: SpooledBytes(spool: try Self.spool.get()))
            documents = SQLDocumentStore(storage: storage, connector: connector)
            digest = SQLDigestStore(storage: storage, connector: connector)
            self.name = connector
            sending = SQLiteSendingStore(storage: storage)
        }

        /// Dossier D1 selected and mapped, one rule for `Achats`, connected and finished.
        func configure(dossierName: String, folder: Int64, at now: Date) async throws {
            _ = try await catalog.upsert([Dossier(id: "D1", name: dossierName, attributes: ["SIRET": "73282932000074"])])
            _ = try await catalog.select(ids: ["D1"], true)
            try await rules.save(
                Rule(id: "rule-1", depositPath: "Achats", documentType: .factureAchat, archivePath: nil, period: .any,
                     createdAt: "2026-12-04T10:00:00Z"),
                depositKey: "achats", replacing: nil)
            try await connector.saveMapping(
                [MatchedDossier(dossierId: "D1", name: dossierName, siret: "73282932000074", inqomFolderId: folder, inqomFolderName: dossierName)],
                siretAttribute: "SIRET", at: now)
            _ = try await connector.update(reason: nil, at: now) { settings, _ in
                settings.sealedCredentials = "sealed"
                settings.login = "login"
                settings.finishedAt = "2026-12-04T10:00:00Z"
            }
            try await digest.upsert([Collaborator(id: "c1", name: dossierName, email: "c1@cabinet.fr", dailyDigest: true, dossierIds: nil)])
        }

        /// This firm's due documents, claimed.
        func claim(at now: Date) async throws -> [Outgoing] {
            try await sending.claimDue(limit: 10, now: now) { [name] in $0 == name }
        }

        func submit(_ id: String, sha256: String, at now: Date) async throws -> SubmissionResult {
            let document = NewDocument(
                id: id, dossierID: "D1", path: "Achats/\(id).pdf", folder: "Achats", fileName: "\(id).pdf", size: 10, sha256: sha256,
                spoolName: "spool-\(id)-\(sha256)", depositedAt: now, submittedAt: now)
            return try await intake.admit(document) { facts in
                try Intake.judge(document, on: facts, year: 2026, month: 12, force: false, dryRun: false)
            }.result
        }
    }

    @Test func twoFirmsWithTheSameIdsSeeOnlyTheirOwn() async throws {
        let storage = try StorageAccess.fresh("connector-scope")
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let (a, b) = (try Firm("firm-a", on: storage), try Firm("Firm-A", on: storage))
        try await a.configure(dossierName: "Boulangerie A", folder: 11, at: now)
        try await b.configure(dossierName: "Garage B", folder: 22, at: now)

        #expect(try await a.catalog.search("", selectedOnly: false, paging: Paging(page: 1, pageSize: 10)).items.map(\.name) == ["Boulangerie A"])
        #expect(try await b.catalog.search("boulangerie", selectedOnly: false, paging: Paging(page: 1, pageSize: 10)).total == 0)
        #expect(try await a.rules.rules().count == 1)
        #expect(try await b.connector.savedMapping(paging: Paging(page: 1, pageSize: 10)).items.map(\.inqomFolderId) == [22])
        #expect(try await a.digest.collaborators(id: "c1").map(\.name) == ["Boulangerie A"])

        // The same document id, and the same bytes, in both: two documents.
        #expect(try await a.submit("inv-1", sha256: "aa", at: now).state == .queued)
        #expect(try await b.submit("inv-1", sha256: "bb", at: now).state == .queued)
        #expect(try await a.documents.counts().queued == 1)
        #expect(try await b.documents.document(id: "inv-1")?.path == "Achats/inv-1.pdf")
        let claimedByA = try await a.claim(at: now)
        #expect(claimedByA.map(\.inqomFolderID) == [11])
        #expect(try await b.documents.counts().queued == 1)
        #expect(try await b.claim(at: now).map(\.inqomFolderID) == [22])

        // One firm's reset leaves the other configured.
        try await a.connector.reset(at: now)
        #expect(try await a.connector.status().state == .unconfigured)
        #expect(try await b.connector.status().state == .active)
        #expect(try await b.rules.rules().count == 1)

        // Events name their connector and can be read per connector.
        let all = try await storage.read { try $0.events(after: 0, of: nil, limit: 100) }
        let ofB = try await storage.read { try $0.events(after: 0, of: ConnectorName("Firm-A")!, limit: 100) }
        #expect(Set(all.map(\.connector)) == ["firm-a", "Firm-A"])
        #expect(!ofB.isEmpty && ofB.allSatisfy { $0.connector == "Firm-A" })
        #expect(ofB.map(\.seq) == all.filter { $0.connector == "Firm-A" }.map(\.seq))

        let connectors = try await storage.read { try $0.rows("SELECT name FROM connectors ORDER BY name") { try $0.text(0) } }
        #expect(connectors == ["Firm-A", "firm-a"])
    }

    /// The state kept in each connector's row is the one its settings give, after every kind of write.
    @Test func eachConnectorsKeptStateFollowsItsWritesAndTheTotalsSumThem() async throws {
        let storage = try StorageAccess.fresh("connector-directory")
        let directory = SQLConnectorDirectory(storage: storage)
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let (a, b, c) = (try Firm("a", on: storage), try Firm("b", on: storage), try Firm("c", on: storage))
        func kept() async throws -> [String: ConnectorState] {
            Dictionary(uniqueKeysWithValues: try await directory.list(state: nil, after: nil, limit: 10).map { ($0.connector, $0.state) })
        }
        func check() async throws {
            let stored = try await kept()
            for (name, firm) in [("a", a), ("b", b), ("c", c)] where stored[name] != nil {
                #expect(stored[name] == (try await firm.connector.status().state), "\(name)")
            }
        }
        try await a.configure(dossierName: "A", folder: 11, at: now)
        _ = try await b.catalog.upsert([Dossier(id: "D1", name: "B", attributes: [:])])
        try await check()
        #expect(try await kept() == ["a": .active, "b": .unconfigured])
        _ = try await b.catalog.select(ids: ["D1"], true)
        #expect(try await kept()["b"] == .configuring)
        _ = try await b.catalog.select(matching: "b", false)
        #expect(try await kept()["b"] == .unconfigured)
        try await c.configure(dossierName: "C", folder: 33, at: now)
        _ = try await c.connector.update(reason: nil, at: now) { settings, _ in settings.paused = true }
        try await check()
        #expect(try await c.rules.delete(id: "rule-1"))
        _ = try await a.connector.update(reason: "inqom_refused_credentials", at: now) { settings, _ in settings.tokenRefused = true }
        try await check()
        try await a.connector.reset(at: now)
        try await check()
        #expect(try await kept() == ["a": .unconfigured, "b": .unconfigured, "c": .paused])

        _ = try await c.submit("inv-1", sha256: "cc", at: now)
        _ = try await b.submit("inv-1", sha256: "bb", at: now)
        let totals = try await directory.totals()
        #expect(totals.connectors == [.unconfigured: 2, .paused: 1])
        // c has no rule left and b is not configured: both kept as ignored, summed.
        #expect(totals.documents.ignored == 2)
        #expect(totals.documents.queued == 0)
        #expect(try await directory.list(state: .paused, after: nil, limit: 10).map(\.connector) == ["c"])
        #expect(try await directory.list(state: nil, after: "a", limit: 1).map(\.connector) == ["b"])
    }

    /// One firm's backlog does not hold another's document: each claim goes
    /// to the connector served least recently among those with documents due.
    @Test func theLeastRecentlyServedConnectorWithDocumentsDueGoesFirst() async throws {
        let storage = try StorageAccess.fresh("connector-fairness")
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let (a, b) = (try Firm("a", on: storage), try Firm("b", on: storage))
        try await a.configure(dossierName: "A", folder: 11, at: now)
        try await b.configure(dossierName: "B", folder: 22, at: now)
        for index in 0..<5 { _ = try await a.submit("a-\(index)", sha256: "a\(index)", at: now) }
        let sending = SQLiteSendingStore(storage: storage)
        let later = now.addingTimeInterval(1)
        func claimOne(admitting: @escaping @Sendable (ConnectorName) -> Bool = { _ in true }) async throws -> String? {
            try await sending.claimDue(limit: 1, now: later, admit: admitting).first.map { "\($0.connector)/\($0.id)" }
        }
        #expect(try await claimOne() == "a/a-0")
        // B's document arrives behind A's backlog, and goes next.
        _ = try await b.submit("b-0", sha256: "b0", at: later)
        #expect(try await claimOne() == "b/b-0")
        #expect(try await claimOne() == "a/a-1")
        // A connector with no place left is passed over; B has nothing due.
        #expect(try await claimOne { $0 != ConnectorName("a")! } == nil)
        // Several at once: still in turn, as long as places are given.
        _ = try await b.submit("b-1", sha256: "b1", at: later)
        let both = try await sending.claimDue(limit: 3, now: later) { _ in true }.map { "\($0.connector)/\($0.id)" }
        #expect(both == ["b/b-1", "a/a-2", "a/a-3"])
    }

    /// A removed firm leaves no row but the `connector.removed` event; the other firm keeps everything.
    @Test func removingAConnectorLeavesNoRowOfItButItsRemovalEvent() async throws {
        let storage = try StorageAccess.fresh("connector-remove")
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let (a, b) = (try Firm("a", on: storage), try Firm("b", on: storage))
        for firm in [a, b] {
            try await firm.configure(dossierName: "\(firm.name)", folder: 11, at: now)
            _ = try await firm.catalog.addFolders(["Achats/2026"])
            _ = try await firm.submit("inv-1", sha256: "aa", at: now)
            try await firm.digest.recordSent(to: "c1", day: "2026-12-04", failures: 1, at: now)
        }
        func rows(of name: String) async throws -> [String: Int] {
            try await storage.read { connection in
                var counts: [String: Int] = [:]
                for table in ["settings", "mapping", "rules", "dossiers", "catalog_folders", "collaborators", "digests_sent", "documents", "events"] {
                    counts[table] = try connection.count("SELECT count(*) FROM \(table) WHERE connector = ?", [.text(name)])
                }
                counts["document_counts"] = try connection.count(
                    "SELECT coalesce(sum(count), 0) FROM document_counts WHERE connector = ?", [.text(name)])
                counts["connectors"] = try connection.count("SELECT count(*) FROM connectors WHERE name = ?", [.text(name)])
                return counts
            }
        }
        let before = try await rows(of: "b")
        #expect(before.values.allSatisfy { $0 > 0 }, "\(before)")
        // A's document is being sent when A is removed; its outcome then writes nothing of A.
        let sending = try #require(try await a.claim(at: now).first)
        let directory = SQLConnectorDirectory(storage: storage)
        #expect(try await directory.remove(ConnectorName("a")!, at: now) == ["spool-inv-1-aa"])
        let outcome = DocumentChange.transmitted(inqomDocumentID: 7, duplicate: false, archivePath: nil)
        let next = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try a.sending.recordBlocking(outcome, of: sending, at: now) { _ in true } })
            }
        }
        #expect(next?.connector == ConnectorName("b")!)
        let history = try await storage.read {
            try $0.count("SELECT count(*) FROM document_history WHERE document_seq = ?", [.integer(sending.seq)])
        }
        #expect(history == 0)
        let after = try await rows(of: "a")
        #expect(after.filter { $0.value > 0 } == ["events": 1], "\(after)")
        let removal = try await storage.read { try $0.events(after: 0, of: ConnectorName("a")!, limit: 10) }
        #expect(removal.map(\.type) == ["connector.removed"])
        #expect(try await rows(of: "b") == before)
        #expect(try await directory.remove(ConnectorName("a")!, at: now) == nil)
    }

    @Test func namesAreCheckedAndComparedExactly() {
        #expect(ConnectorName("cabinet-dupont.paris:01_A") != nil)
        #expect(ConnectorName(String(repeating: "a", count: 128)) != nil)
        for bad in ["", String(repeating: "a", count: 129), "firm a", "firme/é", "a\n", "dupont;drop"] {
            #expect(ConnectorName(bad) == nil, "\(bad)")
        }
        #expect(ConnectorName("Firm-A") != ConnectorName("firm-a"))
    }

    /// A data directory of version 1 becomes connector "default", nothing lost.
    @Test func aVersionOneDatabaseBecomesTheDefaultConnector() async throws {
        let path = TemporaryDirectory.make(prefix: "pushdoc-v1") + "/pushdoc.sqlite"
        do {
            let v1 = try Database(path: path, migrations: Array(Schema.migrations.prefix(7)))
            try await v1.write { connection in
                try connection.execute(
                    """
                    INSERT INTO settings (key, value) VALUES ('wizard.finished', '2026-12-01T10:00:00Z'), ('inqom.credentials', 'sealed'),
                        ('inqom.login', 'cabinet'), ('digest.lastScheduledDay', '2026-12-03');
                    INSERT INTO dossiers (id, name, sort_key, search_text, attributes, selected)
                        VALUES ('D1', 'Boulangerie', 'boulangerie', 'boulangerie', '{"SIRET":"73282932000074"}', 1);
                    INSERT INTO catalog_folders (path, folded) VALUES ('Achats', 'achats');
                    INSERT INTO mapping (dossier_id, siret, inqom_folder_id, inqom_folder_name) VALUES ('D1', '73282932000074', 11, 'Boulangerie');
                    INSERT INTO rules (id, deposit_path, deposit_key, document_type, archive_path, period, created_at)
                        VALUES ('rule-1', 'Achats', 'achats', 'facture_achat', NULL, 'any', '2026-12-01T10:00:00Z');
                    INSERT INTO collaborators (id, name, email, daily_digest, dossier_ids) VALUES ('c1', 'Alice', 'alice@cabinet.fr', 1, NULL);
                    INSERT INTO digests_sent (collaborator_id, day, sent_at, failures) VALUES ('c1', '2026-12-03', 0, 2);
                    INSERT INTO documents (id, dossier_id, path, file_name, size, sha256, spool_name, rule_id, document_type, state,
                        attempts, next_attempt_at, deposited_at, submitted_at)
                        VALUES ('inv-1', 'D1', 'Achats/inv-1.pdf', 'inv-1.pdf', 5, 'aa', 'sp1', 'rule-1', 'facture_achat', 'queued', 0, 0, 0, 0);
                    INSERT INTO documents (id, dossier_id, path, file_name, size, sha256, state, attempts, deposited_at, submitted_at,
                        transmitted_at) VALUES ('inv-0', 'D1', 'Achats/inv-0.pdf', 'inv-0.pdf', 5, 'bb', 'transmitted', 1, 0, 0, 0);
                    INSERT INTO events (type, at, data) VALUES ('document.queued', 0, '{}');
                    """)
            }
        }
        let storage = StorageAccess(testing: try Database(path: path, migrations: Schema.migrations))
        let firm = try Firm("default", on: storage)
        #expect(try await firm.connector.status().state == .active)
        #expect(try await firm.connector.settings().login == "cabinet")
        #expect(try await firm.catalog.search("boul", selectedOnly: true, paging: Paging(page: 1, pageSize: 10)).total == 1)
        #expect(try await firm.catalog.folders(startingWith: "ach", limit: 10) == ["Achats"])
        #expect(try await firm.rules.rules().map(\.id) == ["rule-1"])
        #expect(try await firm.digest.wasSent(to: "c1", day: "2026-12-03"))
        let counts = try await firm.documents.counts()
        #expect((counts.queued, counts.transmitted) == (1, 1))
        #expect(try await storage.read { try $0.events(after: 0, of: .default, limit: 10) }.count == 1)
        // The digest schedule's day is the engine's, not the firm's.
        #expect(try await firm.digest.lastScheduledRun()?.day == "2026-12-03")
        #expect(try await storage.read { try $0.rows("SELECT name FROM connectors") { try $0.text(0) } } == ["default"])
        // Its state is worked out at the first start, and kept from then on.
        #expect(try await SQLConnectorDirectory(storage: storage).list(state: nil, after: nil, limit: 10).first?.state == .unconfigured)
        try await SQLConnectorDirectory(storage: storage).settleUnknownStates()
        #expect(try await SQLConnectorDirectory(storage: storage).list(state: nil, after: nil, limit: 10).first?.state == .active)
        #expect(try await firm.claim(at: Date()).map(\.inqomFolderID) == [11])
        // Another firm sees none of it.
        let other = try Firm("other", on: storage)
        #expect(try await other.connector.status().state == .unconfigured)
        #expect(try await other.documents.counts().transmitted == 0)
    }

    @Test func aNewDataDirectoryHasNoConnectorUntilAWrite() async throws {
        let storage = try StorageAccess.fresh("connector-none")
        #expect(try await storage.read { try $0.count("SELECT count(*) FROM connectors") } == 0)
        let firm = try Firm("firm-a", on: storage)
        _ = try await firm.connector.status()
        _ = try await firm.catalog.search("", selectedOnly: false, paging: Paging(page: 1, pageSize: 1))
        try await firm.digest.recordScheduledRun(day: "2026-12-04", at: "2026-12-04T06:00:00Z")
        #expect(try await storage.read { try $0.count("SELECT count(*) FROM connectors") } == 0)
        _ = try await firm.catalog.upsert([Dossier(id: "D1", name: "Boulangerie", attributes: [:])])
        #expect(try await storage.read { try $0.rows("SELECT name FROM connectors") { try $0.text(0) } } == ["firm-a"])
    }
}
