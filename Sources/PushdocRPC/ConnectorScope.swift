import Engine
import JSONRPC

/// A method's params with the connector they name, if any.
struct Scoped<Params: Decodable & Sendable>: Decodable, Sendable {
    let params: Params
    let connector: String?

    private enum Key: String, CodingKey { case connector }

    init(from decoder: any Decoder) throws {
        params = try Params(from: decoder)
        connector = try decoder.container(keyedBy: Key.self).decodeIfPresent(String.self, forKey: .connector)
    }
}

/// A method of one firm's connector (catalog, wizard, rules, connector,
/// push, status, collaborators, digest): its params may name it.
enum ForConnector<Method: RPCMethod>: RPCMethod {
    static var name: String { Method.name }
    typealias Params = Scoped<Method.Params>
    typealias Result = Method.Result
}

/// A method of the engine as a whole: its params may not name a connector.
enum ForEngine<Method: RPCMethod>: RPCMethod {
    static var name: String { Method.name }
    typealias Params = Unscoped<Method.Params>
    typealias Result = Method.Result
}

struct Unscoped<Params: Decodable & Sendable>: Decodable, Sendable {
    let params: Params

    private enum Key: String, CodingKey { case connector }

    init(from decoder: any Decoder) throws {
        if try decoder.container(keyedBy: Key.self).contains(.connector) {
            throw ResponseError.invalidParams(field: "connector", "this method is the engine's, not a connector's: it takes no connector")
        }
        params = try Params(from: decoder)
    }
}

extension PushdocMethods {
    /// Binds a connector's method: `body` gets the connector the params name (`"default"` when none).
    static func register<Method: RPCMethod>(
        _ table: inout MethodTable, _ method: Method.Type, of engine: Engine,
        _ body: @escaping @Sendable (Method.Params, Connector, RequestContext) async throws -> Method.Result
    ) {
        table.register(ForConnector<Method>.self) { scoped, context in
            try await body(scoped.params, try await engine.connector(named: scoped.connector), context)
        }
    }
}
