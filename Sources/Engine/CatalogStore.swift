import Foundation

/// What the catalog (MCF's dossiers, their selection, the folder tree)
/// needs from storage, each call one transaction; searches ignore case and
/// accents. `SQLCatalogStore`, on SQLite or PostgreSQL, is the implementation;
/// `CatalogStoreTests` says what any must do.
protocol CatalogStore: Sendable {
    /// Inserts or replaces dossiers; a replaced dossier keeps its selection.
    func upsert(_ dossiers: [Dossier]) async throws -> Int
    /// Removes dossiers and their mapping; says how many existed.
    func remove(ids: [String]) async throws -> Int
    /// Selects or unselects these dossiers, all or none
    /// (`EngineError.unknownDossiers` when one is unknown). Returns how many
    /// are selected now.
    func select(ids: [String], _ selected: Bool) async throws -> Int
    /// Selects or unselects every dossier whose name or an attribute value
    /// contains `query`. Returns how many are selected now.
    func select(matching query: String, _ selected: Bool) async throws -> Int
    /// Dossiers whose name or an attribute value contains `query`, ordered
    /// by name, with the total across pages.
    func search(_ query: String, selectedOnly: Bool, paging: Paging) async throws -> Page<Dossier>
    /// The selected dossiers, ordered by name.
    func selectedDossiers() async throws -> [Dossier]
    /// The attributes the dossiers carry, with how many carry each.
    func attributes() async throws -> [AttributeUsage]
    /// Whether any dossier carries `attribute`.
    func carries(attribute: String) async throws -> Bool
    /// Records folder paths (clean, relative) of the dossier tree.
    func addFolders(_ paths: [String]) async throws
    /// Folder paths that start with `prefix`, case and accents ignored, in that order.
    func folders(startingWith prefix: String, limit: Int) async throws -> [String]
}

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
