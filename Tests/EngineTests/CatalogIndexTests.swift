import Testing

@testable import Engine

struct CatalogIndexTests {
    private func entry(_ id: String, _ name: String, _ text: String? = nil) -> CatalogIndex.Entry {
        CatalogIndex.Entry(
            id: id, sortKey: Array(TextFolding.fold(name).utf8), text: Array(TextFolding.fold(text ?? name).utf8),
            selected: false)
    }

    @Test func searchesInNameOrderWithAnExactTotal() {
        let index = CatalogIndex()
        index.replaceAll([entry("3", "Zénith"), entry("1", "Atelier"), entry("2", "Hôtel du Port"), entry("4", "Atelier")])
        #expect(index.search(needle: [], selectedOnly: false, offset: 0, limit: 10).ids == ["1", "4", "2", "3"])
        let page = index.search(needle: [], selectedOnly: false, offset: 1, limit: 2)
        #expect(page.total == 4)
        #expect(page.ids == ["4", "2"])
        #expect(index.search(needle: Array("hotel".utf8), selectedOnly: false, offset: 0, limit: 10).ids == ["2"])
        #expect(index.search(needle: Array("nothing".utf8), selectedOnly: false, offset: 0, limit: 10).total == 0)
    }

    @Test func followsUpsertsRemovalsAndSelection() {
        let index = CatalogIndex()
        index.replaceAll([entry("a", "Alpha"), entry("b", "Beta")])
        index.select(ids: ["a"], true)
        // A renamed dossier moves in the order and keeps its selection.
        index.upsert([entry("a", "Omega"), entry("c", "Gamma")])
        #expect(index.search(needle: [], selectedOnly: false, offset: 0, limit: 10).ids == ["b", "c", "a"])
        #expect(index.search(needle: [], selectedOnly: true, offset: 0, limit: 10).ids == ["a"])
        index.select(matching: Array("ta".utf8), true)
        #expect(index.search(needle: [], selectedOnly: true, offset: 0, limit: 10).ids == ["b", "a"])
        index.remove(["a"])
        #expect(index.search(needle: [], selectedOnly: false, offset: 0, limit: 10).ids == ["b", "c"])
        index.clearSelection()
        #expect(index.search(needle: [], selectedOnly: true, offset: 0, limit: 10).total == 0)
    }

    @Test func matchesAnyPartOfTheText() {
        let index = CatalogIndex()
        index.replaceAll([entry("x", "Boulangerie", "boulangerie\n73282932000074\nnantes")])
        for needle in ["boul", "gerie", "2932", "nantes", "e\n7", "b"] {
            #expect(index.search(needle: Array(needle.utf8), selectedOnly: false, offset: 0, limit: 1).total == 1, "\(needle)")
        }
        #expect(index.search(needle: Array("nanteS".utf8), selectedOnly: false, offset: 0, limit: 1).total == 0)
    }
}
