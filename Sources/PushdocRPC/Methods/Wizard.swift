import Engine
import JSONRPC

/// Paging of the wizard's lists: `page` from 1, `pageSize` 50 by default.
public struct PagingParams: Decodable, Sendable {
    public let page: Int?
    public let pageSize: Int?
}

public enum WizardStateMethod: RPCMethod {
    public static let name = "wizard.state"
    public typealias Params = NoParams
    public typealias Result = WizardState
}

public enum SearchDossiers: RPCMethod {
    public static let name = "wizard.searchDossiers"
    public struct Params: Decodable, Sendable {
        public let query: String?
        public let page: Int?
        public let pageSize: Int?
    }
    public typealias Result = Page<Dossier>
}

public enum SelectDossiers: RPCMethod {
    public static let name = "wizard.selectDossiers"
    public struct Params: Decodable, Sendable {
        public let ids: [String]?
        public let query: String?
        public let selected: Bool
    }
    public struct Result: Codable, Sendable { public let selectedCount: Int }
}

public enum SelectedDossiers: RPCMethod {
    public static let name = "wizard.selectedDossiers"
    public typealias Params = PagingParams
    public typealias Result = Page<Dossier>
}

public enum Connect: RPCMethod {
    public static let name = "wizard.connect"
    public struct Params: Decodable, Sendable {
        public let login: String
        public let password: String
        public let clientSecret: String
    }
    public struct Result: Codable, Sendable {
        public let connected: Bool
        public let accountingFolders: Int
    }
}

public enum Disconnect: RPCMethod {
    public static let name = "wizard.disconnect"
    public typealias Params = NoParams
    public typealias Result = EmptyResult
}

public enum MapDossiers: RPCMethod {
    public static let name = "wizard.mapDossiers"
    public struct Params: Decodable, Sendable {
        public let siretAttribute: String
        public let save: Bool?
    }
    public typealias Result = MappingResult
}

public enum Mapping: RPCMethod {
    public static let name = "wizard.mapping"
    public typealias Params = PagingParams
    public typealias Result = SavedMapping
}

public enum Finish: RPCMethod {
    public static let name = "wizard.finish"
    public typealias Params = NoParams
    public typealias Result = ConnectorStateResult
}

public struct ConnectorStateResult: Codable, Sendable {
    public let state: ConnectorState
}

public enum Pause: RPCMethod {
    public static let name = "connector.pause"
    public typealias Params = NoParams
    public typealias Result = ConnectorStateResult
}

public enum Resume: RPCMethod {
    public static let name = "connector.resume"
    public typealias Params = NoParams
    public typealias Result = ConnectorStateResult
}

public enum Reset: RPCMethod {
    public static let name = "connector.reset"
    public struct Params: Decodable, Sendable { public let confirm: Bool }
    public typealias Result = EmptyResult
}
