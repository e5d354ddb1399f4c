import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// Engines sharing one PostgreSQL database search one catalog: a dossier
/// upserted, selected or removed through one is found so by the others'
/// next search, though each searches an index in its own memory.
struct SharedCatalogTests {
    @Test func anotherEnginesCatalogChangesAreSeenAtTheNextSearch() async throws {
        let storage = try await StoreKind.postgres.fresh("shared-catalog").storage
        let first = SQLCatalogStore(storage: storage, search: DossierSearch(of: .default))
        let second = SQLCatalogStore(storage: storage, search: DossierSearch(of: .default))
        let page = try Paging(page: 1, pageSize: 10)
        #expect(try await second.search("", selectedOnly: false, paging: page).total == 0, "the second engine's index is loaded, empty")

        _ = try await first.upsert([Dossier(id: "d1", name: "Boulangerie Martin", attributes: ["SIRET": "73282932000074"])])
        #expect(try await second.search("martin", selectedOnly: false, paging: page).items.map(\.id) == ["d1"])

        #expect(try await second.select(ids: ["d1"], true) == 1)
        #expect(try await first.search("", selectedOnly: true, paging: page).items.map(\.id) == ["d1"])

        #expect(try await first.remove(ids: ["d1"]) == 1)
        #expect(try await second.search("martin", selectedOnly: false, paging: page).total == 0)
    }
}
