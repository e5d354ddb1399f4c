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

    /// The name order kept through renames, arrivals and removals (the same
    /// id twice in one batch, equal names) is the order sorted afresh.
    @Test func theOrderKeptThroughChangesIsTheOrderSortedAfresh() {
        var generator = SystemRandomNumberGenerator()
        let names = ["Atelier", "Boulangerie", "Café", "atelier", "Zénith", "Hôtel", "Garage", ""]
        let kept = CatalogIndex()
        var truth: [String: String] = [:]
        let initial = (0..<300).map { entry("d\($0)", names[$0 % names.count] + " \($0 % 7)") }
        kept.replaceAll(initial)
        for item in initial { truth[item.id] = String(decoding: item.sortKey, as: UTF8.self) }
        _ = kept.search(needle: [], selectedOnly: false, offset: 0, limit: 1)
        for round in 0..<40 {
            var batch: [CatalogIndex.Entry] = []
            for _ in 0..<Int.random(in: 1...30, using: &generator) {
                let id = "d\(Int.random(in: 0..<400, using: &generator))"
                let name = names.randomElement(using: &generator)! + " \(Int.random(in: 0..<5, using: &generator))"
                batch.append(entry(id, name))
            }
            kept.upsert(batch)
            for item in batch { truth[item.id] = String(decoding: item.sortKey, as: UTF8.self) }
            if round % 3 == 0 {
                let gone = (0..<5).map { _ in "d\(Int.random(in: 0..<400, using: &generator))" }
                kept.remove(gone)
                for id in gone { truth[id] = nil }
            }
        }
        let fresh = CatalogIndex()
        fresh.replaceAll(truth.map { CatalogIndex.Entry(id: $0.key, sortKey: Array($0.value.utf8), text: [], selected: false) })
        let all = { (index: CatalogIndex) in index.search(needle: [], selectedOnly: false, offset: 0, limit: 1_000).ids }
        #expect(all(kept).count == truth.count)
        #expect(all(kept) == all(fresh))
    }

    @Test func matchesAnyPartOfTheText() {
        let index = CatalogIndex()
        index.replaceAll([entry("x", "Boulangerie", "boulangerie\n73282932000074\nnantes")])
        for needle in ["boul", "gerie", "2932", "nantes", "e\n7", "b"] {
            #expect(index.search(needle: Array(needle.utf8), selectedOnly: false, offset: 0, limit: 1).total == 1, "\(needle)")
        }
        #expect(index.search(needle: Array("nanteS".utf8), selectedOnly: false, offset: 0, limit: 1).total == 0)
    }

    /// Texts laid end to end are searched as each text alone would be: no
    /// match across two texts, each text counted once, empty texts, changes
    /// in between; compared with a plain scan of random texts.
    @Test func searchesFindWhatAScanOfEachTextFinds() {
        var generator = SystemRandomNumberGenerator()
        let index = CatalogIndex()
        var texts: [String: [UInt8]] = [:]
        func randomText() -> [UInt8] { (0..<Int.random(in: 0..<12, using: &generator)).map { _ in UInt8(ascii: "a") + UInt8.random(in: 0..<3, using: &generator) } }
        for round in 0..<30 {
            let batch = (0..<40).map { _ in
                CatalogIndex.Entry(id: "d\(Int.random(in: 0..<300, using: &generator))", sortKey: randomText(), text: randomText(), selected: false)
            }
            index.upsert(batch)
            for entry in batch { texts[entry.id] = entry.text }
            if round == 15 {
                // Loaded again from the table, as after a failed write: later batches append to what the load laid out.
                index.replaceAll(texts.map { id, text in CatalogIndex.Entry(id: id, sortKey: Array(id.utf8), text: text, selected: false) })
            }
            if round % 3 == 2 {
                let gone = (0..<5).map { _ in "d\(Int.random(in: 0..<300, using: &generator))" }
                index.remove(gone)
                for id in gone { texts[id] = nil }
            }
            let everyone = index.search(needle: [], selectedOnly: false, offset: 0, limit: 500).ids
            for needle in ["a", "ab", "ca", "abc", "cab", "aaa", "bcab"].map({ Array($0.utf8) }) {
                let found = index.search(needle: needle, selectedOnly: false, offset: 0, limit: 500)
                let scanned = everyone.filter { id in
                    let text = texts[id]!
                    return text.count >= needle.count && (0...(text.count - needle.count)).contains { Array(text[$0..<($0 + needle.count)]) == needle }
                }
                #expect(found.ids == scanned, "\(String(decoding: needle, as: UTF8.self))")
                #expect(found.total == scanned.count)
            }
        }
    }

    @Test func aMatchAcrossTwoTextsIsNoMatchAndSelectionFollowsTheSearch() {
        let index = CatalogIndex()
        index.replaceAll([entry("1", "a", "xxab"), entry("2", "b", ""), entry("3", "c", "cdyy"), entry("4", "d", "abcd")])
        #expect(index.search(needle: Array("abcd".utf8), selectedOnly: false, offset: 0, limit: 10).ids == ["4"])
        #expect(index.search(needle: Array("bc".utf8), selectedOnly: false, offset: 0, limit: 10).ids == ["4"])
        index.select(matching: Array("cd".utf8), true)
        #expect(index.search(needle: [], selectedOnly: true, offset: 0, limit: 10).ids == ["3", "4"])
    }
}
