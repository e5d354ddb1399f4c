import Foundation
import Synchronization

extension Engine {
    /// Inserts or replaces dossiers (their selection is kept), in one transaction.
    public func upsertDossiers(_ dossiers: [Dossier]) async throws -> Int {
        for (index, dossier) in dossiers.enumerated() {
            try TextLimits.checkDossier(dossier, field: "dossiers.\(index)")
        }
        return try await catalogStore.upsert(dossiers)
    }

    /// Removes dossiers and their mapping.
    public func removeDossiers(_ ids: [String]) async throws -> Int {
        try await catalogStore.remove(ids: ids)
    }

    /// The attributes the dossiers carry, with how many dossiers carry each.
    public func attributes() async throws -> [AttributeUsage] {
        try await catalogStore.attributes()
    }

    /// Records folder paths of the dossier tree, offered by `rules.completePath`.
    public func upsertFolders(_ paths: [String]) async throws -> Int {
        for (index, path) in paths.enumerated() { try TextLimits.checkRelativePath(path, field: "paths.\(index)") }
        let cleaned = paths.map(Self.cleanPath)
        if let index = cleaned.firstIndex(of: "") {
            throw EngineError.invalidParameter(field: "paths.\(index)", message: "must name a folder")
        }
        try await catalogStore.addFolders(cleaned)
        return cleaned.count
    }

    /// A path with single slashes, none leading or trailing, in NFC.
    static func cleanPath(_ path: String) -> String {
        path.precomposedStringWithCanonicalMapping.split(separator: "/").joined(separator: "/")
    }

    /// Dossiers whose name or an attribute value contains `query` (case and
    /// accents ignored), by name; `selectedOnly` for step 1's selection list.
    public func searchDossiers(query: String?, paging: Paging, selectedOnly: Bool) async throws -> Page<Dossier> {
        try await catalogStore.search(query ?? "", selectedOnly: selectedOnly, paging: paging)
    }

    /// Selects (or unselects) dossiers by id, or every dossier a query
    /// matches; returns how many are selected now.
    public func selectDossiers(ids: [String]?, query: String?, selected: Bool) async throws -> Int {
        if let ids { return try await catalogStore.select(ids: ids, selected) }
        if let query { return try await catalogStore.select(matching: query, selected) }
        return try await connectorStore.progress().selectedDossiers
    }
}
