import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// A `CatalogStore` under test, with the connector store of the same storage.
protocol CatalogStoreFixture: Sendable {
    var store: any CatalogStore { get }
    var connector: any ConnectorStore { get }
}

/// One implementation of the seam: every test below runs on each.
struct CatalogStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> any CatalogStoreFixture
}

/// What any `CatalogStore` must do, whatever keeps the catalog.
struct CatalogStoreTests {
    static let implementations = StoreKind.allCases.map(SQLCatalogFixture.implementation)

    private static let dossiers = [
        Dossier(id: "d1", name: "Société Générale", attributes: ["SIRET": "55212022200013", "Ville": "Paris"]),
        Dossier(id: "d2", name: "Boulangerie Martin", attributes: ["SIRET": "73282932000074", "Ville": "Nantes"]),
        Dossier(id: "d3", name: "Café du Port", attributes: ["Ville": "Saint-Malo"]),
    ]

    private func names(_ page: Page<Dossier>) -> [String] { page.items.map(\.name) }

    @Test(arguments: implementations)
    func searchesIgnoreCaseAndAccentsAndListByName(_ implementation: CatalogStoreImplementation) async throws {
        let store = try await implementation.make().store
        #expect(try await store.upsert(Self.dossiers) == 3)
        let all = try await store.search("", selectedOnly: false, paging: try Paging(page: 1, pageSize: 2))
        #expect(all.total == 3)
        #expect(names(all) == ["Boulangerie Martin", "Café du Port"])
        #expect(names(try await store.search("", selectedOnly: false, paging: try Paging(page: 2, pageSize: 2))) == ["Société Générale"])
        #expect(names(try await store.search("SOCIETE", selectedOnly: false, paging: try Paging(page: 1, pageSize: 10))) == ["Société Générale"])
        #expect(names(try await store.search("nantes", selectedOnly: false, paging: try Paging(page: 1, pageSize: 10))) == ["Boulangerie Martin"])
        #expect(try await store.search("port", selectedOnly: false, paging: try Paging(page: 1, pageSize: 10)).items.first?.attributes
            == ["Ville": "Saint-Malo"])
        #expect(try await store.attributes() == [AttributeUsage(name: "SIRET", dossierCount: 2), AttributeUsage(name: "Ville", dossierCount: 3)])
        #expect(try await store.carries(attribute: "SIRET"))
        #expect(try await store.carries(attribute: "siret") == false)
    }

    @Test(arguments: implementations)
    func aSelectionIsAllOrNothingAndSurvivesARename(_ implementation: CatalogStoreImplementation) async throws {
        let store = try await implementation.make().store
        _ = try await store.upsert(Self.dossiers)
        // A search first, so that an index kept beside the table is loaded.
        _ = try await store.search("", selectedOnly: true, paging: try Paging(page: 1, pageSize: 10))
        #expect(try await store.select(ids: ["d1"], true) == 1)
        await #expect(throws: EngineError.self) { try await store.select(ids: ["d2", "nobody"], true) }
        let selected = try await store.search("", selectedOnly: true, paging: try Paging(page: 1, pageSize: 10))
        #expect(selected.items.map(\.id) == ["d1"])
        #expect(selected.items.first?.selected == true)
        _ = try await store.upsert([Dossier(id: "d1", name: "Société Générale SA", attributes: [:])])
        #expect(try await store.selectedDossiers().map(\.name) == ["Société Générale SA"])
        #expect(try await store.select(matching: "saint-malo", true) == 2)
        #expect(try await store.selectedDossiers().map(\.id) == ["d3", "d1"])
        #expect(try await store.select(matching: "", false) == 0)
    }

    @Test(arguments: implementations)
    func removedDossiersAreGoneFromSearchesAndAResetClearsTheSelection(_ implementation: CatalogStoreImplementation) async throws {
        let fixture = try await implementation.make()
        let store = fixture.store
        _ = try await store.upsert(Self.dossiers)
        _ = try await store.select(ids: ["d1", "d2"], true)
        #expect(try await store.search("", selectedOnly: true, paging: try Paging(page: 1, pageSize: 10)).total == 2)
        #expect(try await store.remove(ids: ["d2", "nobody"]) == 1)
        #expect(try await store.search("boulangerie", selectedOnly: false, paging: try Paging(page: 1, pageSize: 10)).total == 0)
        try await fixture.connector.reset(at: Date(timeIntervalSince1970: 50))
        #expect(try await store.search("", selectedOnly: true, paging: try Paging(page: 1, pageSize: 10)).total == 0)
        #expect(try await store.selectedDossiers().isEmpty)
    }

    @Test(arguments: implementations)
    func foldersAreCompletedFromTheirStartIgnoringCaseAndAccents(_ implementation: CatalogStoreImplementation) async throws {
        let store = try await implementation.make().store
        try await store.addFolders(["Comptabilité/2026/Achats", "Comptabilité/2026/Ventes", "Courrier", "Comptabilité/2026/Achats"])
        #expect(try await store.folders(startingWith: "comptabilite/2026", limit: 10) == ["Comptabilité/2026/Achats", "Comptabilité/2026/Ventes"])
        #expect(try await store.folders(startingWith: "CO", limit: 2) == ["Comptabilité/2026/Achats", "Comptabilité/2026/Ventes"])
        #expect(try await store.folders(startingWith: "Cou", limit: 10) == ["Courrier"])
        #expect(try await store.folders(startingWith: "x", limit: 10).isEmpty)
    }
}

/// The catalog in a fresh database of either kind.
struct SQLCatalogFixture: CatalogStoreFixture {
    let store: any CatalogStore
    let connector: any ConnectorStore

    static func implementation(_ kind: StoreKind) -> CatalogStoreImplementation {
        CatalogStoreImplementation(description: kind.description) {
            let storage = try await kind.fresh("catalog-store").storage
            let search = DossierSearch(of: .default)
            return SQLCatalogFixture(
                store: SQLCatalogStore(storage: storage, search: search),
                connector: SQLConnectorStore(storage: storage, connector: .default, search: search))
        }
    }
}
