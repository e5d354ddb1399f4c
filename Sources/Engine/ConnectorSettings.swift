import Foundation

public enum ConnectorState: String, Codable, Sendable, CaseIterable {
    case unconfigured, configuring, active, paused, disconnected
}

/// The connector's state and, when disconnected, why (`status.summary`'s
/// `connector`, `wizard.state`'s `state` and `reason`).
public struct ConnectorStatus: Codable, Sendable, Equatable {
    public let state: ConnectorState
    /// `credentials_unreadable` (the sealed credentials did not open with
    /// this master key), `inqom_refused_credentials`, or `not_connected`.
    public let reason: String?
}

/// The connector's own settings, as stored, and the one rule that says what
/// state they put the connector in.
struct ConnectorSettings: Sendable, Equatable {
    /// When `wizard.finish` succeeded.
    var finishedAt: String?
    var paused = false
    var login: String?
    /// The credentials sealed by the master key, base64.
    var sealedCredentials: String?
    var connectedAt: String?
    var siretAttribute: String?
    /// Inqom refused the stored credentials while sending.
    var tokenRefused = false
    /// The sealed credentials did not open at start (another master key,
    /// altered data): kept for the right key, not used.
    var credentialsUnreadable = false

    var isConnected: Bool { sealedCredentials != nil && !credentialsUnreadable }

    /// `somethingChosen` (a dossier selected, a rule made) is asked only
    /// before the wizard's end, where it tells `configuring` from `unconfigured`.
    func status(somethingChosen: () throws -> Bool) rethrows -> ConnectorStatus {
        guard finishedAt != nil else {
            let started = try isConnected || siretAttribute != nil || somethingChosen()
            return .init(state: started ? .configuring : .unconfigured, reason: nil)
        }
        if paused { return .init(state: .paused, reason: nil) }
        if isConnected, !tokenRefused { return .init(state: .active, reason: nil) }
        return .init(
            state: .disconnected,
            reason: credentialsUnreadable ? "credentials_unreadable" : tokenRefused ? "inqom_refused_credentials" : "not_connected")
    }

    /// The `connector.state` event that a change from `before` to `after`
    /// writes; nil when the state did not change.
    static func stateEvent(from before: ConnectorState, to after: ConnectorState, reason: String?) -> [String: EventValue]? {
        after == before ? nil : ["state": .text(after.rawValue), "reason": reason.map { .text($0) } ?? .null]
    }
}

/// The counts behind `wizard.state`'s steps.
struct WizardProgress: Sendable, Equatable {
    var selectedDossiers: Int
    /// Selected dossiers with a saved Inqom folder.
    var mappedDossiers: Int
    var rules: Int
}
