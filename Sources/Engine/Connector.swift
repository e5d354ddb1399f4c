import Foundation
import Synchronization

/// One firm's connector: its components, each over stores that see only
/// this connector's rows.
public struct Connector: Sendable {
    public let name: ConnectorName
    public let catalog: Catalog
    public let setup: ConnectorSetup
    public let rules: SendingRules
    public let intake: Intake
    public let documents: Documents
    public let digest: Digest
}

/// The connectors in use, each made once on first use: a connector
/// nobody calls costs only its rows.
final class Connectors: Sendable {
    private let make: @Sendable (ConnectorName) -> Connector
    private let made = Mutex<[ConnectorName: Connector]>([:])

    init(make: @escaping @Sendable (ConnectorName) -> Connector) {
        self.make = make
    }

    func callAsFunction(_ name: ConnectorName) -> Connector {
        made.withLock { made in
            if let connector = made[name] { return connector }
            let connector = make(name)
            made[name] = connector
            return connector
        }
    }
}
