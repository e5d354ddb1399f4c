import Engine
import Foundation
import JSONRPC

public enum Submit: RPCMethod {
    public static let name = "push.submit"
    public struct Params: Decodable, Sendable {
        public let dossierId: String
        public let path: String
        public let file: String?
        public let contentBase64: String?
        public let documentId: String?
        public let depositedAt: String?
        public let force: Bool?
        public let size: Int64?
        public let sha256: String?
        public let dryRun: Bool?
    }
    public typealias Result = SubmissionResult
}

public enum Retry: RPCMethod {
    public static let name = "push.retry"
    public struct Params: Decodable, Sendable {
        public let documentIds: [String]?
        public let all: Bool?
        public let dossierId: String?
    }
    public struct Result: Codable, Sendable { public let requeued: Int }
}

public enum Drain: RPCMethod {
    public static let name = "push.drain"
    public struct Params: Decodable, Sendable {
        public let timeoutMs: Int?
        public let progressToken: RawJSON?
    }
    public typealias Result = StatusSummary
}

public enum Summary: RPCMethod {
    public static let name = "status.summary"
    public typealias Params = NoParams
    public typealias Result = StatusSummary
}

public enum DocumentStatusMethod: RPCMethod {
    public static let name = "status.document"
    public struct Params: Decodable, Sendable { public let documentId: String }
    public typealias Result = DocumentStatus
}

public enum Documents: RPCMethod {
    public static let name = "status.documents"
    public struct Params: Decodable, Sendable {
        public let dossierId: String?
        public let state: String?
        public let pathPrefix: String?
        public let cursor: String?
        public let limit: Int?
    }
    public typealias Result = DocumentList
}

public enum Subscribe: RPCMethod {
    public static let name = "events.subscribe"
    public struct Params: Decodable, Sendable { public let after: Int64? }
    public struct Result: Codable, Sendable { public let lastSeq: Int64 }
}

public enum Unsubscribe: RPCMethod {
    public static let name = "events.unsubscribe"
    public typealias Params = NoParams
    public typealias Result = EmptyResult
}

public enum ListEvents: RPCMethod {
    public static let name = "events.list"
    public struct Params: Decodable, Sendable {
        public let after: Int64?
        public let limit: Int?
    }
    public struct Result: Codable, Sendable {
        public let events: [Event]
        public let lastSeq: Int64
    }
}

public enum ListConnectors: RPCMethod {
    public static let name = "connectors.list"
    public struct Params: Decodable, Sendable {
        public let state: String?
        public let cursor: String?
        public let limit: Int?
    }
    public typealias Result = ConnectorPage
}

public enum EngineStatusMethod: RPCMethod {
    public static let name = "status.engine"
    public typealias Params = NoParams
    public typealias Result = EngineStatus
}

public enum RemoveConnector: RPCMethod {
    public static let name = "connectors.remove"
    public struct Params: Decodable, Sendable {
        public let connector: String
        public let confirm: Bool?
    }
    public struct Result: Codable, Sendable { public let removed: Bool }
}
