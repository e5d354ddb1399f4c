import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// A client dossier in the catalog when a test begins.
struct SeedDossier: Sendable {
    let id: String
    let name: String
    var selected = true
}

/// A `ConnectorStore` under test, with the document store of the same storage.
protocol ConnectorStoreFixture: Sendable {
    var store: any ConnectorStore { get }
    var documents: any DocumentStore { get }
    /// Events of the log, oldest first.
    func events() async throws -> [Event]
}

/// One implementation of the seam: every test below runs on each.
struct ConnectorStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable (_ dossiers: [SeedDossier], _ rules: Int, _ documents: [SeedDocument]) async throws -> any ConnectorStoreFixture
}

/// What any `ConnectorStore` must do, whatever keeps the connector's setup.
struct ConnectorStoreTests {
    static let implementations = StoreKind.allCases.map(SQLConnectorFixture.implementation)

    private static let at = Date(timeIntervalSince1970: 50)
    private struct Refused: Error {}

    private func stateEvents(_ fixture: any ConnectorStoreFixture) async throws -> [[String: EventValue]] {
        try await fixture.events().filter { $0.type == EventType.connectorState.rawValue }.map(\.data)
    }

    @Test(arguments: implementations)
    func settingsAreKeptAndOnlyAChangeOfStateIsWritten(_ implementation: ConnectorStoreImplementation) async throws {
        let fixture = try await implementation.make([], 0, [])
        let store = fixture.store
        #expect(try await store.status() == .init(state: .unconfigured, reason: nil))
        #expect(try await store.update(reason: "no change", at: Self.at) { settings, _ in settings.login = "cabinet" } == .unconfigured)
        #expect(try await stateEvents(fixture).isEmpty)
        try await store.update(reason: "wizard.connect", at: Self.at) { settings, _ in settings.sealedCredentials = "sealed" }
        #expect(try await stateEvents(fixture) == [["state": .text("configuring"), "reason": .text("wizard.connect")]])
        // An edit that throws changes nothing.
        await #expect(throws: Refused.self) {
            try await store.update(reason: nil, at: Self.at) { settings, _ in
                settings.paused = true
                throw Refused()
            }
        }
        let settings = try await store.settings()
        #expect(settings == ConnectorSettings(login: "cabinet", sealedCredentials: "sealed"))
        #expect(try await stateEvents(fixture).count == 1)
    }

    @Test(arguments: implementations)
    func anEditReadsTheWizardsProgressInItsTransaction(_ implementation: ConnectorStoreImplementation) async throws {
        let fixture = try await implementation.make(
            [SeedDossier(id: "d1", name: "Boulangerie"), SeedDossier(id: "d2", name: "Café"), SeedDossier(id: "d3", name: "Zinc", selected: false)],
            2, [])
        let store = fixture.store
        #expect(try await store.progress() == WizardProgress(selectedDossiers: 2, mappedDossiers: 0, rules: 2))
        #expect(try await store.status().state == .configuring)
        try await store.saveMapping(
            [MatchedDossier(dossierId: "d2", name: "Café", siret: "55210055400013", inqomFolderId: 12, inqomFolderName: "CAFE")],
            siretAttribute: "SIRET", at: Self.at)
        let state = try await store.update(reason: nil, at: Self.at) { settings, progress in
            guard try progress() == WizardProgress(selectedDossiers: 2, mappedDossiers: 1, rules: 2) else { throw Refused() }
            settings.sealedCredentials = "sealed"
            settings.finishedAt = "2026-12-04T10:00:00Z"
        }
        #expect(state == .active)
        #expect(try await stateEvents(fixture).last == ["state": .text("active"), "reason": .null])
    }

    @Test(arguments: implementations)
    func savingAMappingReplacesItAndRequeuesWhatWaitedForIt(_ implementation: ConnectorStoreImplementation) async throws {
        let fixture = try await implementation.make(
            [SeedDossier(id: "d1", name: "Boulangerie"), SeedDossier(id: "d2", name: "Café")], 1,
            [SeedDocument(id: "waited", next: nil, state: .failed, dossierID: "d2", reason: .dossierNotMapped),
             SeedDocument(id: "other", next: nil, state: .failed, dossierID: "d1", reason: .dossierNotMapped),
             SeedDocument(id: "refused", next: nil, state: .failed, dossierID: "d2", reason: .inqomRejected)])
        let store = fixture.store
        let boulangerie = MatchedDossier(dossierId: "d1", name: "Boulangerie", siret: "73282932000074", inqomFolderId: 11, inqomFolderName: "BOULANGERIE")
        let cafe = MatchedDossier(dossierId: "d2", name: "Café", siret: "55210055400013", inqomFolderId: 12, inqomFolderName: "CAFE")
        try await store.saveMapping([boulangerie], siretAttribute: "OLD", at: Self.at)
        try await store.saveMapping([cafe], siretAttribute: "SIRET", at: Self.at)
        let saved = try await store.savedMapping(paging: try Paging(page: 1, pageSize: 10))
        #expect(saved.siretAttribute == "SIRET")
        #expect(saved.total == 1)
        #expect(saved.items == [cafe])
        #expect(try await fixture.documents.document(id: "waited")?.state == .queued)
        #expect(try await fixture.documents.document(id: "refused")?.state == .failed)
        let queued = try await fixture.events().filter { $0.type == EventType.documentQueued.rawValue }
        // d1 was mapped by the first save, then no more: its document went once.
        #expect(queued.map { $0.data["documentId"] } == [.text("other"), .text("waited")])
        #expect(queued.allSatisfy { $0.data["cause"] == .text("mapping") })
    }

    @Test(arguments: implementations)
    func aResetForgetsTheSetupButNotTheDocuments(_ implementation: ConnectorStoreImplementation) async throws {
        let fixture = try await implementation.make(
            [SeedDossier(id: "d1", name: "Boulangerie")], 1, [SeedDocument(id: "sent", next: nil, state: .transmitted)])
        let store = fixture.store
        try await store.saveMapping(
            [MatchedDossier(dossierId: "d1", name: "Boulangerie", siret: "73282932000074", inqomFolderId: 11, inqomFolderName: "B")],
            siretAttribute: "SIRET", at: Self.at)
        try await store.update(reason: nil, at: Self.at) { settings, _ in
            settings.sealedCredentials = "sealed"
            settings.login = "cabinet"
            settings.finishedAt = "2026-12-04T10:00:00Z"
        }
        try await store.reset(at: Self.at)
        #expect(try await store.settings() == ConnectorSettings())
        #expect(try await store.progress() == WizardProgress(selectedDossiers: 0, mappedDossiers: 0, rules: 0))
        #expect(try await store.savedMapping(paging: try Paging(page: 1, pageSize: 10)).total == 0)
        #expect(try await store.status().state == .unconfigured)
        #expect(try await stateEvents(fixture).last == ["state": .text("unconfigured"), "reason": .text("connector.reset")])
        #expect(try await fixture.documents.document(id: "sent")?.state == .transmitted)
    }
}

/// The connector's setup in a seeded database of either kind.
struct SQLConnectorFixture: ConnectorStoreFixture {
    let seeded: SeededStore
    let store: any ConnectorStore
    let documents: any DocumentStore

    static func implementation(_ kind: StoreKind) -> ConnectorStoreImplementation {
        ConnectorStoreImplementation(description: kind.description) { dossiers, rules, seeds in
            let seeded = try await SeededStore.make(kind, seeds)
            try await seeded.setConnectorActive(false)
            try await seeded.storage.write { connection in
                try connection.run("DELETE FROM mapping", [])
                for dossier in dossiers { try SeedDossier.insert(dossier, on: connection) }
                for rule in 0..<rules {
                    try connection.run(
                        """
                        INSERT INTO rules (connector, id, deposit_path, deposit_key, document_type, period, created_at)
                        VALUES ('default', ?, ?, ?, 'facture_achat', 'current', '2026-12-04T10:00:00Z')
                        """, [.text("r\(rule)"), .text("Achats/\(rule)"), .text("achats/\(rule)")])
                }
            }
            let storage = seeded.storage
            return SQLConnectorFixture(
                seeded: seeded, store: SQLConnectorStore(storage: storage, connector: .default, search: DossierSearch(of: .default)),
                documents: SQLDocumentStore(storage: storage, connector: .default))
        }
    }

    func events() async throws -> [Event] { try await seeded.events() }
}

extension SeedDossier {
    static func insert(_ dossier: SeedDossier, on connection: any SQLConnection) throws {
        try connection.run(
            "INSERT INTO dossiers (connector, id, name, sort_key, search_text, attributes, selected) VALUES ('default', ?, ?, ?, ?, '{}', ?)",
            [.text(dossier.id), .text(dossier.name), .text(dossier.name.lowercased()), .text(dossier.name.lowercased()),
             .integer(dossier.selected ? 1 : 0)])
    }
}
