import Engine
import JSONRPC

public enum AddRule: RPCMethod {
    public static let name = "rules.add"
    public struct Params: Decodable, Sendable {
        public let depositPath: String
        public let documentType: DocumentType
        public let archivePath: String?
        public let period: Rule.Period?
    }
    public typealias Result = Rule
}

public enum UpdateRule: RPCMethod {
    public static let name = "rules.update"
    public struct Params: Decodable, Sendable {
        public let id: String
        public let changes: RuleChanges

        enum CodingKeys: String, CodingKey { case id, depositPath, documentType, archivePath, period }

        /// `archivePath: null` removes the archive path; leaving it out keeps it.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            let archivePath: String??
            if container.contains(.archivePath) {
                archivePath = .some(try container.decodeNil(forKey: .archivePath) ? nil : try container.decode(String.self, forKey: .archivePath))
            } else {
                archivePath = .none
            }
            changes = RuleChanges(
                depositPath: try container.decodeIfPresent(String.self, forKey: .depositPath),
                documentType: try container.decodeIfPresent(DocumentType.self, forKey: .documentType),
                archivePath: archivePath, period: try container.decodeIfPresent(Rule.Period.self, forKey: .period))
        }
    }
    public typealias Result = Rule
}

public enum DeleteRule: RPCMethod {
    public static let name = "rules.delete"
    public struct Params: Decodable, Sendable { public let id: String }
    public struct Result: Codable, Sendable { public let deleted: Bool }
}

public enum ListRules: RPCMethod {
    public static let name = "rules.list"
    public typealias Params = NoParams
    public struct Result: Codable, Sendable { public let rules: [Rule] }
}

public enum CompletePath: RPCMethod {
    public static let name = "rules.completePath"
    public struct Params: Decodable, Sendable {
        public let prefix: String
        public let limit: Int?
    }
    public struct Result: Codable, Sendable { public let suggestions: [String] }
}
