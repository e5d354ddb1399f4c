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

/// The connectors in use, each made on first use and kept while in use:
/// past `capacity`, the least recently used is dropped (its search index,
/// its session) and made again, from its rows, at its next use. A
/// connector nobody calls costs only its rows.
final class Connectors: Sendable {
    private struct State {
        var made: [ConnectorName: Connector] = [:]
        /// When each was last used, as a rising number.
        var used: [ConnectorName: UInt64] = [:]
        var uses: UInt64 = 0
        /// Connectors whose stored credentials have been opened into their session.
        var restored: Set<ConnectorName> = []
    }

    private let make: @Sendable (ConnectorName) -> Connector
    private let dropped: @Sendable (ConnectorName) -> Void
    private let capacity: Int
    private let state = Mutex(State())

    /// `dropped` hears of each connector dropped for want of room.
    init(
        capacity: Int, dropped: @escaping @Sendable (ConnectorName) -> Void,
        make: @escaping @Sendable (ConnectorName) -> Connector
    ) {
        self.capacity = capacity
        self.make = make
        self.dropped = dropped
    }

    /// The connector, its stored credentials opened at its first use.
    func ready(_ name: ConnectorName) async throws -> Connector {
        let connector = self(name)
        guard !state.withLock({ $0.restored.contains(name) }) else { return connector }
        try await connector.setup.restoreCredentials()
        state.withLock { _ = $0.restored.insert(name) }
        return connector
    }

    /// Forgets a connector (removed, or dropped): made afresh at its next use.
    func forget(_ name: ConnectorName) {
        state.withLock { state in
            state.made[name] = nil
            state.used[name] = nil
            state.restored.remove(name)
        }
    }

    func callAsFunction(_ name: ConnectorName) -> Connector {
        let (connector, evicted) = state.withLock { state -> (Connector, ConnectorName?) in
            state.uses += 1
            state.used[name] = state.uses
            if let connector = state.made[name] { return (connector, nil) }
            let connector = make(name)
            state.made[name] = connector
            guard state.made.count > capacity, let oldest = state.used.min(by: { $0.value < $1.value })?.key else {
                return (connector, nil)
            }
            state.made[oldest] = nil
            state.used[oldest] = nil
            state.restored.remove(oldest)
            return (connector, oldest)
        }
        if let evicted { dropped(evicted) }
        return connector
    }

    /// How many connectors are in memory.
    var count: Int { state.withLock { $0.made.count } }
}
