import Engine
import JSONRPC

public enum UpsertDossiers: RPCMethod {
    public static let name = "catalog.upsertDossiers"
    public struct Params: Decodable, Sendable { public let dossiers: [Dossier] }
    public struct Result: Codable, Sendable { public let upserted: Int }
}

public enum RemoveDossiers: RPCMethod {
    public static let name = "catalog.removeDossiers"
    public struct Params: Decodable, Sendable { public let ids: [String] }
    public struct Result: Codable, Sendable { public let removed: Int }
}

public enum CatalogAttributes: RPCMethod {
    public static let name = "catalog.attributes"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable { public let attributes: [AttributeUsage] }
}

public enum UpsertFolders: RPCMethod {
    public static let name = "catalog.upsertFolders"
    public struct Params: Decodable, Sendable { public let paths: [String] }
    public struct Result: Codable, Sendable { public let upserted: Int }
}
