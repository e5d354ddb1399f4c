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
    /// Connectors whose stored credentials have been opened into their session.
    private let restored = Mutex<Set<ConnectorName>>([])

    init(make: @escaping @Sendable (ConnectorName) -> Connector) {
        self.make = make
    }

    /// The connector, its stored credentials opened at its first use.
    func ready(_ name: ConnectorName) async throws -> Connector {
        let connector = self(name)
        guard !restored.withLock({ $0.contains(name) }) else { return connector }
        try await connector.setup.restoreCredentials()
        restored.withLock { _ = $0.insert(name) }
        return connector
    }

    /// Forgets a removed connector: made afresh, empty, at its next use.
    func forget(_ name: ConnectorName) {
        made.withLock { _ = $0.removeValue(forKey: name) }
        restored.withLock { _ = $0.remove(name) }
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
