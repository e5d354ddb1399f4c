import Engine
import JSONRPC

public enum UpsertCollaborators: RPCMethod {
    public static let name = "collaborators.upsert"
    public struct Params: Decodable, Sendable { public let collaborators: [Collaborator] }
    public struct Result: Codable, Sendable { public let upserted: Int }
}

public enum RemoveCollaborators: RPCMethod {
    public static let name = "collaborators.remove"
    public struct Params: Decodable, Sendable { public let ids: [String] }
    public struct Result: Codable, Sendable { public let removed: Int }
}

public enum ListCollaborators: RPCMethod {
    public static let name = "collaborators.list"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable { public let collaborators: [Collaborator] }
}

public enum PreviewDigest: RPCMethod {
    public static let name = "digest.preview"
    public struct Params: Decodable, Sendable {
        public let collaboratorId: String
        public let date: String?
    }
    public typealias Result = DigestPreview
}

public enum SendDigest: RPCMethod {
    public static let name = "digest.send"
    public struct Params: Decodable, Sendable {
        public let date: String?
        public let collaboratorId: String?
        public let force: Bool?
    }
    public typealias Result = DigestOutcome
}
