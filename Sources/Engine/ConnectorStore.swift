import Foundation

/// What the connector's setup needs from storage, each call one
/// transaction: its settings and state, the wizard's progress, the saved
/// mapping, and a reset. Every change of the connector's state commits with
/// its `connector.state` event. `SQLConnectorStore`, on SQLite or PostgreSQL, is the
/// implementation; `ConnectorStoreTests` says what any must do.
protocol ConnectorStore: Sendable {
    func status() async throws -> ConnectorStatus
    func settings() async throws -> ConnectorSettings
    func progress() async throws -> WizardProgress
    /// Lets `edit` change the settings (it may read the wizard's progress,
    /// or throw to change nothing) and saves them; when the connector's
    /// state changes, writes `connector.state` with `reason`. Returns the
    /// state after.
    @discardableResult
    func update(
        reason: String?, at now: Date,
        _ edit: @escaping @Sendable (inout ConnectorSettings, _ progress: () throws -> WizardProgress) throws -> Void
    ) async throws -> ConnectorState
    /// Replaces the mapping and its SIRET attribute; documents that failed
    /// for want of a mapping and whose dossier now has one are queued again
    /// (cause `mapping`).
    func saveMapping(_ matched: [MatchedDossier], siretAttribute: String, at now: Date) async throws
    /// The saved mapping, ordered by dossier name.
    func savedMapping(paging: Paging) async throws -> SavedMapping
    /// Forgets the settings, mapping, rules and selection (the digest's own
    /// bookkeeping, the catalog, documents and events stay), with
    /// `connector.state` (reason `connector.reset`) when that changes the state.
    func reset(at now: Date) async throws
}
