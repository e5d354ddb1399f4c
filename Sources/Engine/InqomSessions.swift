import Foundation
import InqomClient
import Synchronization

/// Each connector's Inqom session (its own login, token and refresh), all
/// over the engine's one client: its transfer threads and request pacer.
final class InqomSessions: Sendable {
    let client: InqomClient
    /// Where a connector's request slots are shared with other engines (PostgreSQL); nil: this engine alone.
    private let slots: @Sendable (ConnectorName) -> (any SlotLedger)?
    /// Where a connector's credentials are read as stored now, when other engines may change them; nil: never.
    private let storedCredentials: @Sendable (ConnectorName) -> (@Sendable () async throws -> InqomCredentials?)?
    /// The token a connector's sessions share across engines; nil: each its own.
    private let sharedToken: @Sendable (ConnectorName) -> SharedToken?
    private let now: @Sendable () -> Date
    private let sessions = Mutex<[ConnectorName: InqomSession]>([:])

    init(
        client: InqomClient, slots: @escaping @Sendable (ConnectorName) -> (any SlotLedger)?,
        storedCredentials: @escaping @Sendable (ConnectorName) -> (@Sendable () async throws -> InqomCredentials?)?,
        sharedToken: @escaping @Sendable (ConnectorName) -> SharedToken?,
        now: @escaping @Sendable () -> Date
    ) {
        self.client = client
        self.slots = slots
        self.storedCredentials = storedCredentials
        self.sharedToken = sharedToken
        self.now = now
    }

    /// Ends a removed connector's session: its credentials and token forgotten.
    func forget(_ connector: ConnectorName) async {
        await sessions.withLock { $0.removeValue(forKey: connector) }?.forget()
    }

    /// Drops an idle connector's session; one made at its next use opens its credentials again.
    func drop(_ connector: ConnectorName) {
        sessions.withLock { _ = $0.removeValue(forKey: connector) }
    }

    /// The connector's session, made empty (not connected) on first use.
    func session(for connector: ConnectorName) -> InqomSession {
        sessions.withLock { sessions in
            if let session = sessions[connector] { return session }
            let session = InqomSession(client: client, slots: slots(connector), storedCredentials: storedCredentials(connector), shared: sharedToken(connector), now: now)
            sessions[connector] = session
            return session
        }
    }
}
