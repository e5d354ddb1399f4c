import Foundation
import InqomClient
import Logging
import Store

/// `wizard.state`: where each of the four steps stands.
public struct WizardState: Codable, Sendable {
    public struct DossierStep: Codable, Sendable { public let done: Bool; public let selectedCount: Int }
    public struct ConnectionStep: Codable, Sendable {
        public let done: Bool
        public let login: String?
        public let connectedAt: String?
    }
    public struct MappingStep: Codable, Sendable {
        public let done: Bool
        public let siretAttribute: String?
        public let matched: Int
        public let unmatched: Int
    }
    public struct RulesStep: Codable, Sendable { public let done: Bool; public let count: Int }
    public struct Steps: Codable, Sendable {
        public let dossiers: DossierStep
        public let connection: ConnectionStep
        public let mapping: MappingStep
        public let rules: RulesStep
    }

    public let state: ConnectorState
    /// Why a finished connector is disconnected (`ConnectorStatus.reason`).
    public let reason: String?
    public let steps: Steps

    init(settings: ConnectorSettings, progress: WizardProgress) {
        let status = settings.status { progress.selectedDossiers > 0 || progress.rules > 0 }
        state = status.state
        reason = status.reason
        steps = Steps(
            dossiers: .init(done: progress.selectedDossiers > 0, selectedCount: progress.selectedDossiers),
            connection: .init(done: settings.isConnected, login: settings.login, connectedAt: settings.connectedAt),
            mapping: .init(
                done: settings.siretAttribute != nil && progress.mappedDossiers > 0, siretAttribute: settings.siretAttribute,
                matched: progress.mappedDossiers,
                unmatched: settings.siretAttribute == nil ? 0 : progress.selectedDossiers - progress.mappedDossiers),
            rules: .init(done: progress.rules > 0, count: progress.rules))
    }

    var missing: [String] {
        [("dossiers", steps.dossiers.done), ("connection", steps.connection.done), ("mapping", steps.mapping.done),
         ("rules", steps.rules.done)].filter { !$0.1 }.map(\.0)
    }
}

/// The connector's setup, steps 2 and 3 of the wizard and what follows:
/// the Inqom connection and its sealed credentials, the SIRET mapping, the
/// end of the wizard, pause, and reset.
public struct ConnectorSetup: Sendable {
    let store: any ConnectorStore
    let catalogStore: any CatalogStore
    let inqom: InqomSession
    let secretBox: SecretBox
    let clock: any EngineClock
    let changes: ChangeSignal
    let logger: Logger

    /// Step 2: asks Inqom for a token and its folders; only then stores the
    /// credentials, sealed. Returns how many accounting folders Inqom lists.
    public func connect(_ credentials: InqomCredentials) async throws -> Int {
        let token: AccessToken
        let folders: [AccountingFolder]
        do {
            token = try await inqom.client.requestToken(credentials, pacedBy: inqom.pacer)
            folders = try await inqom.client.accountingFolders(token: token, pacedBy: inqom.pacer)
        } catch {
            throw Self.connectionError(error)
        }
        let sealed = Data(try secretBox.seal(Array(try JSONEncoder().encode(StoredCredentials(credentials))))).base64EncodedString()
        let connectedAt = Timestamp.text(clock.now)
        // The session first: once the write below makes the connector active,
        // a worker may ask for a token, and must not ask with the old password.
        try await inqom.connect(credentials, token: token)
        try await store.update(reason: nil, at: clock.now) { settings, _ in
            settings.sealedCredentials = sealed
            settings.login = credentials.login
            settings.connectedAt = connectedAt
            settings.tokenRefused = false
            settings.credentialsUnreadable = false
        }
        changes.notify()
        logger.info("connected to Inqom", metadata: ["accountingFolders": "\(folders.count)"])
        return folders.count
    }

    /// Forgets the credentials and tokens.
    public func disconnect() async throws {
        try await store.update(reason: "wizard.disconnect", at: clock.now) { settings, _ in
            settings.sealedCredentials = nil
            settings.login = nil
            settings.connectedAt = nil
        }
        await inqom.forget()
    }

    /// Opens the sealed credentials of an earlier `wizard.connect`, at start.
    /// A copy that cannot be opened (another master key, altered data) is
    /// kept for the right key but not used: the connector is disconnected
    /// with the reason `credentials_unreadable`, said in the log and in a
    /// `connector.state` event, until `wizard.connect` or a restart with the
    /// right key.
    func restoreCredentials() async throws {
        let settings = try await store.settings()
        guard let encoded = settings.sealedCredentials else { return }
        let readable: Bool
        do {
            await inqom.restore(try StoredCredentials.open(encoded, with: secretBox))
            readable = true
        } catch {
            readable = false
            logger.error(
                """
                the stored Inqom credentials do not open with this master key (master.key or PUSHDOC_MASTER_KEY), \
                or were altered: the connector is disconnected until wizard.connect, or a restart with the right key
                """,
                metadata: ["error": "\(error)"])
        }
        // Written only when the verdict changes: a usual start commits nothing here.
        guard readable == settings.credentialsUnreadable else { return }
        try await store.update(reason: readable ? nil : "credentials_unreadable", at: clock.now) { settings, _ in
            settings.credentialsUnreadable = !readable
        }
    }

    /// Step 3: matches the selected dossiers to Inqom's accounting folders by
    /// SIRET, against a fresh folder list; saves unless `save` is false.
    public func mapDossiers(siretAttribute: String, save: Bool) async throws -> MappingResult {
        guard await inqom.isConnected else { throw EngineError.notConnected }
        // A misspelt attribute would save an all-unmatched mapping over a working one.
        guard try await catalogStore.carries(attribute: siretAttribute) else {
            throw EngineError.invalidParameter(field: "siretAttribute", message: "no dossier of the catalog has the attribute '\(siretAttribute)'")
        }
        let folders: [AccountingFolder]
        do {
            let (client, pacer) = (inqom.client, inqom.pacer)
            folders = try await inqom.withToken { token throws(InqomError) in
                try await client.accountingFolders(token: token, pacedBy: pacer)
            }
        } catch {
            throw Self.connectionError(error)
        }
        let result = SiretMapping.match(try await catalogStore.selectedDossiers(), by: siretAttribute, to: folders)
        if save {
            try await store.saveMapping(result.matched, siretAttribute: siretAttribute, at: clock.now)
            changes.notify()
        }
        return result
    }

    /// The saved mapping, page by page.
    public func savedMapping(paging: Paging) async throws -> SavedMapping {
        try await store.savedMapping(paging: paging)
    }

    /// The connector's state, as `status.summary` shows it.
    public func status() async throws -> ConnectorStatus {
        try await store.status()
    }

    public func wizardState() async throws -> WizardState {
        let settings = try await store.settings()
        let progress = try await store.progress()
        return WizardState(settings: settings, progress: progress)
    }

    /// The end of the wizard: sending starts, or the missing steps are named.
    public func finishWizard() async throws -> ConnectorState {
        let finishedAt = Timestamp.text(clock.now)
        let state = try await store.update(reason: nil, at: clock.now) { settings, progress in
            let missing = WizardState(settings: settings, progress: try progress()).missing
            guard missing.isEmpty else { throw EngineError.wizardIncomplete(missing: missing) }
            settings.finishedAt = finishedAt
        }
        changes.notify()
        return state
    }

    public func setPaused(_ paused: Bool) async throws -> ConnectorState {
        let state = try await store.update(reason: nil, at: clock.now) { settings, _ in settings.paused = paused }
        changes.notify()
        return state
    }

    /// Inqom refused the stored credentials (invalid_grant, invalid_client):
    /// nothing is sent until `wizard.connect` succeeds again.
    func markTokenRefused(_ why: String) async throws {
        try await store.update(reason: "inqom_refused_credentials", at: clock.now) { settings, _ in settings.tokenRefused = true }
        logger.error("Inqom refused the stored credentials: connector disconnected", metadata: ["error": "\(why)"])
    }

    /// Wipes configuration and credentials; the catalog, documents and events stay.
    public func reset() async throws {
        try await store.reset(at: clock.now)
        await inqom.forget()
    }

    static func connectionError(_ error: any Error) -> any Error {
        switch error {
        case InqomError.invalidGrant: EngineError.authFailed(.invalidCredentials)
        case InqomError.invalidClient: EngineError.authFailed(.invalidClientSecret)
        case let inqomError as InqomError: EngineError.inqomUnreachable(detail: inqomError.description)
        default: error
        }
    }
}

/// The credentials as sealed at rest.
/// Credentials as `wizard.connect` seals them in the settings.
struct StoredCredentials: Codable {
    /// The credentials sealed as `encoded` (base64).
    static func open(_ encoded: String, with box: SecretBox) throws -> InqomCredentials {
        let plain = try box.open(Array(Data(base64Encoded: encoded) ?? Data()))
        return try JSONDecoder().decode(StoredCredentials.self, from: Data(plain)).credentials
    }

    let login: String
    let password: String
    let clientSecret: String

    init(_ credentials: InqomCredentials) {
        login = credentials.login
        password = credentials.password
        clientSecret = credentials.clientSecret
    }

    var credentials: InqomCredentials {
        InqomCredentials(login: login, password: password, clientSecret: clientSecret)
    }
}
