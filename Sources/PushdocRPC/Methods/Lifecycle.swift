import JSONRPC

/// `initialize`: optional greeting; says who answers and what it can do.
public enum Initialize: RPCMethod {
    public static let name = "initialize"

    public struct Params: Codable, Sendable {
        public struct ClientInfo: Codable, Sendable {
            public let name: String
            public let version: String?
        }
        public let clientInfo: ClientInfo?
    }

    public struct Result: Codable, Sendable {
        public struct ServerInfo: Codable, Sendable {
            public let name: String
            public let version: String
        }
        public struct Capabilities: Codable, Sendable {
            /// Every method this build answers, sorted.
            public let methods: [String]
            public let batches: Bool
            public let cancellation: Bool
            public let maxMessageBytes: Int
            /// Methods take a `connector` (protocol version 2).
            public let connectors: Bool
        }
        public let serverInfo: ServerInfo
        public let protocolVersion: String
        public let connector: String
        public let capabilities: Capabilities
    }
}

/// `ping` → `"pong"`.
public enum Ping: RPCMethod {
    public static let name = "ping"
    public typealias Params = NoParams
    public typealias Result = String
}

/// `shutdown` → `{}`, then the engine stops taking work and exits.
public enum Shutdown: RPCMethod {
    public static let name = "shutdown"
    public typealias Params = NoParams
    public typealias Result = EmptyResult
}

/// `rpc.discover` → the OpenRPC document of this build.
public enum Discover: RPCMethod {
    public static let name = "rpc.discover"
    public typealias Params = NoParams
    public typealias Result = RawJSON
}
