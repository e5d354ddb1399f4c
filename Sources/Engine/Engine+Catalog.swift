import Foundation
import Store
import Synchronization

/// A client dossier as MCF describes it.
public struct Dossier: Codable, Sendable, Equatable {
    public let id: String
    public let name: String
    public let attributes: [String: String]
    public var selected: Bool?

    public init(id: String, name: String, attributes: [String: String], selected: Bool? = nil) {
        self.id = id
        self.name = name
        self.attributes = attributes
        self.selected = selected
    }
}

/// One page of a list, with the exact total.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public let total: Int
    public let page: Int
    public let pageSize: Int
    public let items: [Item]
}

public struct AttributeUsage: Codable, Sendable, Equatable {
    public let name: String
    public let dossierCount: Int
}

extension Engine {
    /// Inserts or replaces dossiers (their selection is kept), in one transaction.
    public func upsertDossiers(_ dossiers: [Dossier]) async throws -> Int {
        for (index, dossier) in dossiers.enumerated() {
            try TextLimits.checkDossier(dossier, field: "dossiers.\(index)")
        }
        var rows: [[SQLValue]] = []
        var entries: [CatalogIndex.Entry] = []
        for dossier in dossiers {
            let attributes = String(decoding: try JSONEncoder().encode(dossier.attributes), as: UTF8.self)
            let searchable = ([dossier.name] + dossier.attributes.keys.sorted().compactMap { dossier.attributes[$0] })
                .map(TextFolding.fold).joined(separator: "\n")
            let sortKey = TextFolding.fold(dossier.name)
            rows.append([.text(dossier.id), .text(dossier.name), .text(sortKey), .text(searchable), .text(attributes)])
            entries.append(.init(id: dossier.id, sortKey: Array(sortKey.utf8), text: Array(searchable.utf8), selected: false))
        }
        let finalRows = rows
        let finalEntries = entries
        return try await writeCatalog { connection, index in
            for row in finalRows {
                try connection.run(
                    """
                    INSERT INTO dossiers (id, name, sort_key, search_text, attributes) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, sort_key = excluded.sort_key,
                        search_text = excluded.search_text, attributes = excluded.attributes
                    """, row)
            }
            index?.upsert(finalEntries)
            return finalRows.count
        }
    }

    /// Removes dossiers and their mapping.
    public func removeDossiers(_ ids: [String]) async throws -> Int {
        try await writeCatalog { connection, index in
            var removed = 0
            for id in ids {
                try connection.run("DELETE FROM mapping WHERE dossier_id = ?", [.text(id)])
                removed += try connection.run("DELETE FROM dossiers WHERE id = ?", [.text(id)])
            }
            index?.remove(ids)
            return removed
        }
    }

    /// A write that changes the catalog: `body` gets the in-memory index when
    /// it is loaded, to change it alike. If the transaction fails, the index
    /// is dropped and reloaded from the table at the next search.
    func writeCatalog<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection, CatalogIndex?) throws -> T) async throws -> T {
        do {
            return try await write { connection in
                try body(connection, self.catalogIndexLoaded.load(ordering: .acquiring) ? self.catalogIndex : nil)
            }
        } catch {
            catalogIndexLoaded.store(false, ordering: .releasing)
            throw error
        }
    }

    /// The in-memory index, loaded from the table on first use (on the
    /// writer queue, so no catalog change slips between load and use).
    private func loadedCatalogIndex() async throws -> CatalogIndex {
        if catalogIndexLoaded.load(ordering: .acquiring) { return catalogIndex }
        try await write { connection in
            guard !self.catalogIndexLoaded.load(ordering: .acquiring) else { return }
            let entries = try connection.rows("SELECT id, sort_key, search_text, selected FROM dossiers") { row in
                CatalogIndex.Entry(
                    id: row.text(0), sortKey: Array(row.text(1).utf8), text: Array(row.text(2).utf8), selected: row.int(3) == 1)
            }
            self.catalogIndex.replaceAll(entries)
            self.catalogIndexLoaded.store(true, ordering: .releasing)
        }
        return catalogIndex
    }

    /// The attributes the dossiers carry, with how many dossiers carry each.
    public func attributes() async throws -> [AttributeUsage] {
        try await database.read { connection in
            try connection.rows(
                """
                SELECT attribute.key, count(*) FROM dossiers, json_each(dossiers.attributes) AS attribute
                GROUP BY attribute.key ORDER BY attribute.key
                """
            ) { AttributeUsage(name: $0.text(0), dossierCount: Int($0.int(1))) }
        }
    }

    /// Records folder paths of the dossier tree, offered by `rules.completePath`.
    public func upsertFolders(_ paths: [String]) async throws -> Int {
        for (index, path) in paths.enumerated() { try TextLimits.checkRelativePath(path, field: "paths.\(index)") }
        let cleaned = paths.map(Self.cleanPath)
        if let index = cleaned.firstIndex(of: "") {
            throw EngineError.invalidParameter(field: "paths.\(index)", message: "must name a folder")
        }
        return try await write { connection in
            for path in cleaned {
                try connection.run(
                    "INSERT OR IGNORE INTO catalog_folders (path, folded) VALUES (?, ?)",
                    [.text(path), .text(TextFolding.fold(path))])
            }
            return cleaned.count
        }
    }

    /// A path with single slashes, none leading or trailing, in NFC.
    static func cleanPath(_ path: String) -> String {
        path.precomposedStringWithCanonicalMapping.split(separator: "/").joined(separator: "/")
    }

    /// Dossiers whose name or an attribute value contains `query` (case and
    /// accents ignored), by name; `selectedOnly` for step 1's selection list.
    public func searchDossiers(query: String?, paging: Paging, selectedOnly: Bool) async throws -> Page<Dossier> {
        let index = try await loadedCatalogIndex()
        let (total, ids) = index.search(
            needle: Array(TextFolding.fold(query ?? "").utf8), selectedOnly: selectedOnly,
            offset: paging.offset, limit: paging.pageSize)
        let idList = String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)
        let found = try await database.read { connection in
            try connection.rows(
                "SELECT id, name, attributes, selected FROM dossiers WHERE id IN (SELECT value FROM json_each(?))",
                [.text(idList)]
            ) { row in
                Dossier(id: row.text(0), name: row.text(1), attributes: Self.attributes(row.text(2)), selected: row.int(3) == 1)
            }
        }
        let byID = Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0) })
        return Page(total: total, page: paging.page, pageSize: paging.pageSize, items: ids.compactMap { byID[$0] })
    }

    /// Selects (or unselects) dossiers by id, or every dossier a query
    /// matches; returns how many are selected now.
    public func selectDossiers(ids: [String]?, query: String?, selected: Bool) async throws -> Int {
        let flag: SQLValue = .integer(selected ? 1 : 0)
        return try await writeCatalog { connection, index in
            if let ids {
                var unknown: [String] = []
                for id in ids where try connection.run("UPDATE dossiers SET selected = ? WHERE id = ?", [flag, .text(id)]) == 0 {
                    unknown.append(id)
                }
                // Nothing changes when an id is unknown: the transaction rolls back.
                if !unknown.isEmpty { throw EngineError.unknownDossiers(ids: Array(unknown.prefix(20))) }
                index?.select(ids: ids, selected)
            } else if let query {
                let needle = TextFolding.fold(query)
                try connection.run("UPDATE dossiers SET selected = ? WHERE instr(search_text, ?) > 0", [flag, .text(needle)])
                index?.select(matching: Array(needle.utf8), selected)
            }
            return try connection.count("SELECT count(*) FROM dossiers WHERE selected = 1")
        }
    }

    static func attributes(_ json: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
    }
}
