import Foundation
import Store

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
        for (index, dossier) in dossiers.enumerated() where dossier.id.isEmpty {
            throw EngineError.invalidParameter(field: "dossiers.\(index).id", message: "must not be empty")
        }
        let rows = try dossiers.map { dossier -> [SQLValue] in
            let attributes = String(decoding: try JSONEncoder().encode(dossier.attributes), as: UTF8.self)
            let searchable = ([dossier.name] + dossier.attributes.keys.sorted().compactMap { dossier.attributes[$0] })
                .map(TextFolding.fold).joined(separator: "\n")
            return [.text(dossier.id), .text(dossier.name), .text(TextFolding.fold(dossier.name)), .text(searchable), .text(attributes)]
        }
        return try await write { connection in
            for row in rows {
                try connection.run(
                    """
                    INSERT INTO dossiers (id, name, sort_key, search_text, attributes) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, sort_key = excluded.sort_key,
                        search_text = excluded.search_text, attributes = excluded.attributes
                    """, row)
            }
            return rows.count
        }
    }

    /// Removes dossiers and their mapping.
    public func removeDossiers(_ ids: [String]) async throws -> Int {
        try await write { connection in
            var removed = 0
            for id in ids {
                try connection.run("DELETE FROM mapping WHERE dossier_id = ?", [.text(id)])
                removed += try connection.run("DELETE FROM dossiers WHERE id = ?", [.text(id)])
            }
            return removed
        }
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
        let cleaned = paths.map { PathTemplate.normalisedSegments($0).isEmpty ? "" : Self.cleanPath($0) }
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
    public func searchDossiers(query: String?, page: Int, pageSize: Int, selectedOnly: Bool) async throws -> Page<Dossier> {
        try Self.checkPaging(page: page, pageSize: pageSize)
        let search = DossierSearch(needle: TextFolding.fold(query ?? ""), selectedOnly: selectedOnly)
        return try await database.read { connection in
            let total = try search.count(connection)
            let items = try search.page(connection, total: total, limit: pageSize, offset: (page - 1) * pageSize) { row in
                Dossier(id: row.text(0), name: row.text(1), attributes: Self.attributes(row.text(2)), selected: row.int(3) == 1)
            }
            return Page(total: total, page: page, pageSize: pageSize, items: items)
        }
    }

    /// Selects (or unselects) dossiers by id, or every dossier a query
    /// matches; returns how many are selected now.
    public func selectDossiers(ids: [String]?, query: String?, selected: Bool) async throws -> Int {
        let flag: SQLValue = .integer(selected ? 1 : 0)
        return try await write { connection in
            if let ids {
                var unknown: [String] = []
                for id in ids where try connection.run("UPDATE dossiers SET selected = ? WHERE id = ?", [flag, .text(id)]) == 0 {
                    unknown.append(id)
                }
                // Nothing changes when an id is unknown: the transaction rolls back.
                if !unknown.isEmpty { throw EngineError.unknownDossiers(ids: Array(unknown.prefix(20))) }
            } else if let query {
                try connection.run(
                    "UPDATE dossiers SET selected = ? WHERE instr(search_text, ?) > 0", [flag, .text(TextFolding.fold(query))])
            }
            return try connection.count("SELECT count(*) FROM dossiers WHERE selected = 1")
        }
    }

    static func attributes(_ json: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
    }

    static func checkPaging(page: Int, pageSize: Int) throws {
        guard page >= 1 else { throw EngineError.invalidParameter(field: "page", message: "must be 1 or more") }
        guard (1...500).contains(pageSize) else {
            throw EngineError.invalidParameter(field: "pageSize", message: "must be from 1 to 500")
        }
    }
}
