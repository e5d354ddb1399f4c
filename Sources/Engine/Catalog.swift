import Foundation

/// The dossiers and folder tree MCF mirrors, their search, and step 1's selection.
public struct Catalog: Sendable {
    let store: any CatalogStore
    let connectorStore: any ConnectorStore

    /// Inserts or replaces dossiers (their selection is kept), in one transaction.
    public func upsert(_ dossiers: [Dossier]) async throws -> Int {
        for (index, dossier) in dossiers.enumerated() {
            try TextLimits.checkDossier(dossier, field: "dossiers.\(index)")
        }
        return try await store.upsert(dossiers)
    }

    /// Removes dossiers and their mapping.
    public func remove(ids: [String]) async throws -> Int {
        try await store.remove(ids: ids)
    }

    /// The attributes the dossiers carry, with how many dossiers carry each.
    public func attributes() async throws -> [AttributeUsage] {
        try await store.attributes()
    }

    /// Records folder paths of the dossier tree, offered by `rules.completePath`.
    public func addFolders(_ paths: [String]) async throws -> Int {
        for (index, path) in paths.enumerated() { try TextLimits.checkRelativePath(path, field: "paths.\(index)") }
        let cleaned = paths.map(DossierPath.clean)
        if let index = cleaned.firstIndex(of: "") {
            throw EngineError.invalidParameter(field: "paths.\(index)", message: "must name a folder")
        }
        try await store.addFolders(cleaned)
        return cleaned.count
    }

    /// Dossiers whose name or an attribute value contains `query` (case and
    /// accents ignored), by name; `selectedOnly` for step 1's selection list.
    public func search(query: String?, paging: Paging, selectedOnly: Bool) async throws -> Page<Dossier> {
        try await store.search(query ?? "", selectedOnly: selectedOnly, paging: paging)
    }

    /// Selects (or unselects) dossiers by id, or every dossier a query
    /// matches; returns how many are selected now.
    public func select(ids: [String]?, query: String?, selected: Bool) async throws -> Int {
        if let ids { return try await store.select(ids: ids, selected) }
        if let query { return try await store.select(matching: query, selected) }
        return try await connectorStore.progress().selectedDossiers
    }
}
