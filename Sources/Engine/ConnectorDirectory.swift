import Foundation

/// Every connector of the engine at once: `connectors.list` and
/// `status.engine`. Each connector's state is kept in its row by the writes
/// that change it, so that a page or a count costs rows, not a look at each
/// connector's settings.
protocol ConnectorDirectory: Sendable {
    /// Connectors named after `after`, by name, `limit` at most, of one state or all.
    func list(state: ConnectorState?, after: String?, limit: Int) async throws -> [ConnectorEntry]
    /// Documents summed over every connector, and how many connectors are in each state.
    func totals() async throws -> (documents: DocumentCounts, connectors: [ConnectorState: Int])
    /// The engine's latest upload that succeeded, and latest error, over every connector.
    func lastActivity() async throws -> InqomActivity
    /// The connectors with a collaborator who opted in to the daily digest.
    func withDailyDigests() async throws -> [ConnectorName]
    /// Removes every row of the connector (its events too), then writes
    /// `connector.removed`; the spool files its documents held, or nil when
    /// no connector has that name.
    func remove(_ connector: ConnectorName, at now: Date) async throws -> [String]?
    /// Works out the states not known yet (a connector migrated from version 1).
    func settleUnknownStates() async throws
}

/// One connector as `connectors.list` shows it.
public struct ConnectorEntry: Codable, Sendable, Equatable {
    public struct Documents: Codable, Sendable, Equatable {
        public let queued, sending, retrying, transmitted, failed: Int
    }

    public let connector: String
    public let state: ConnectorState
    public let documents: Documents
    public let createdAt: String
}
