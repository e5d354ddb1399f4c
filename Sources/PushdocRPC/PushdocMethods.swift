import Engine
import JSONRPC

/// Binds every method of the Pushdoc protocol to the engine.
public enum PushdocMethods {
    public static let protocolVersion = "2"

    /// The OpenRPC document (`protocol/openrpc.json`) built into this binary.
    public static let openRPCDocument: RawJSON = {
        do {
            return try RawJSON(parsing: PackageResources.openrpc_json).compacted()
        } catch {
            preconditionFailure("protocol/openrpc.json built into this binary is not valid JSON: \(error)")
        }
    }()

    /// `requestShutdown` is called once `shutdown` has been answered.
    public static func table(
        engine: Engine, maxMessageBytes: Int, requestShutdown: @escaping @Sendable () -> Void
    ) -> MethodTable {
        var table = MethodTable(describeError: ApplicationError.describe)
        registerWizard(&table, engine: engine)
        registerPush(&table, engine: engine)
        registerDigest(&table, engine: engine)
        table.registerImmediate(ForEngine<Ping>.self) { _, _ in "pong" }
        table.registerImmediate(ForEngine<Discover>.self) { _, _ in openRPCDocument }
        table.registerImmediate(ForEngine<Shutdown>.self) { _, _ in
            requestShutdown()
            return EmptyResult()
        }
        let methodNames = table.methodNames.union([Initialize.name]).sorted()
        table.registerImmediate(ForEngine<Initialize>.self) { _, _ in
            Initialize.Result(
                serverInfo: .init(name: "pushdoc", version: Engine.version),
                protocolVersion: protocolVersion,
                connector: Engine.connectorName,
                capabilities: .init(
                    methods: methodNames, batches: true, cancellation: true, maxMessageBytes: maxMessageBytes,
                    connectors: true))
        }
        return table
    }
}
