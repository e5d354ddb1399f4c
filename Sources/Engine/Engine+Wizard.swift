import Foundation
import InqomClient
import Store

public enum ConnectorState: String, Codable, Sendable {
    case unconfigured, configuring, active, paused, disconnected
}

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
    /// Why a finished connector is disconnected: `credentials_unreadable`
    /// (the sealed credentials did not open with this master key),
    /// `inqom_refused_credentials`, or `not_connected`.
    public let reason: String?
    public let steps: Steps

    var missing: [String] {
        [("dossiers", steps.dossiers.done), ("connection", steps.connection.done), ("mapping", steps.mapping.done),
         ("rules", steps.rules.done)].filter { !$0.1 }.map(\.0)
    }
}

public struct MatchedDossier: Codable, Sendable, Equatable {
    public let dossierId: String
    public let name: String
    public let siret: String
    public let inqomFolderId: Int64
    public let inqomFolderName: String
}

public struct UnmatchedDossier: Codable, Sendable, Equatable {
    public let dossierId: String
    public let name: String
    /// missing_attribute, invalid_siret, not_found_in_inqom, ambiguous_in_inqom
    public let reason: String
    public let value: String?
}

/// Several MCF dossiers mapped to one Inqom folder by the same SIRET:
/// allowed, shown so that an administrator sees it.
public struct SharedSiret: Codable, Sendable, Equatable {
    public let siret: String
    public let dossierIds: [String]
}

public struct MappingResult: Codable, Sendable {
    public let matched: [MatchedDossier]
    public let unmatched: [UnmatchedDossier]
    public let sharedSirets: [SharedSiret]
}

public struct SavedMapping: Codable, Sendable {
    public let siretAttribute: String?
    public let total: Int
    public let page: Int
    public let pageSize: Int
    public let items: [MatchedDossier]
}

extension Engine {
    /// Step 2: asks Inqom for a token and its folders; only then stores the
    /// credentials, sealed. Returns how many accounting folders Inqom lists.
    public func connect(_ credentials: InqomCredentials) async throws -> Int {
        let token: AccessToken
        let folders: [AccountingFolder]
        do {
            token = try await inqom.client.requestToken(credentials)
            folders = try await inqom.client.accountingFolders(token: token)
        } catch {
            throw Self.connectionError(error)
        }
        let sealed = try secretBox.seal(Array(try JSONEncoder().encode(StoredCredentials(credentials))))
        let connectedAt = Self.timestamp(now())
        let before = try await wizardState().state
        // The session first: once the write below makes the connector active,
        // a worker may ask for a token, and must not ask with the old password.
        await inqom.connect(credentials, token: token)
        try await write { connection in
            try connection.setSetting(.inqomCredentials, Data(sealed).base64EncodedString())
            try connection.setSetting(.inqomLogin, credentials.login)
            try connection.setSetting(.inqomConnectedAt, connectedAt)
            try connection.setSetting(.tokenRefused, nil)
            try connection.setSetting(.credentialsUnreadable, nil)
            try Self.logStateChange(connection, from: before, reason: nil, at: self.now())
        }
        changes.notify()
        logger.info("connected to Inqom", metadata: ["accountingFolders": "\(folders.count)"])
        return folders.count
    }

    /// Forgets the credentials and tokens.
    public func disconnect() async throws {
        let now = now()
        try await write { connection in
            let before = try Self.connectorStatus(connection).state
            for key: SettingKey in [.inqomCredentials, .inqomLogin, .inqomConnectedAt] {
                try connection.setSetting(key, nil)
            }
            _ = try Self.logStateChange(connection, from: before, reason: "wizard.disconnect", at: now)
        }
        await inqom.forget()
    }

    /// Step 3: matches the selected dossiers to Inqom's accounting folders by
    /// SIRET, against a fresh folder list; saves unless `save` is false.
    public func mapDossiers(siretAttribute: String, save: Bool) async throws -> MappingResult {
        guard await inqom.isConnected else { throw EngineError.notConnected }
        // A misspelt attribute would save an all-unmatched mapping over a working one.
        let carried = try await database.read { connection in
            try connection.count(
                "SELECT EXISTS (SELECT 1 FROM dossiers, json_each(dossiers.attributes) AS attribute WHERE attribute.key = ?)",
                [.text(siretAttribute)])
        }
        guard carried == 1 else {
            throw EngineError.invalidParameter(field: "siretAttribute", message: "no dossier of the catalog has the attribute '\(siretAttribute)'")
        }
        let folders: [AccountingFolder]
        do {
            folders = try await inqom.withToken { token throws(InqomError) in
                try await self.inqom.client.accountingFolders(token: token)
            }
        } catch {
            throw Self.connectionError(error)
        }
        let bySiret = Dictionary(grouping: folders.compactMap { folder in folder.siret.map { ($0, folder) } }, by: \.0)
        let selected = try await database.read { connection in
            try connection.rows("SELECT id, name, attributes FROM dossiers WHERE selected = 1 ORDER BY sort_key, id") {
                ($0.text(0), $0.text(1), Self.attributes($0.text(2)))
            }
        }
        var matched: [MatchedDossier] = []
        var unmatched: [UnmatchedDossier] = []
        for (id, name, attributes) in selected {
            guard let value = attributes[siretAttribute], !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                unmatched.append(.init(dossierId: id, name: name, reason: "missing_attribute", value: nil))
                continue
            }
            guard let siret = Siret(value) else {
                unmatched.append(.init(dossierId: id, name: name, reason: "invalid_siret", value: value))
                continue
            }
            let candidates = bySiret[siret.digits] ?? []
            guard candidates.count == 1, let folder = candidates.first?.1 else {
                let reason = candidates.isEmpty ? "not_found_in_inqom" : "ambiguous_in_inqom"
                unmatched.append(.init(dossierId: id, name: name, reason: reason, value: value))
                continue
            }
            matched.append(
                .init(dossierId: id, name: name, siret: siret.digits, inqomFolderId: folder.id, inqomFolderName: folder.name))
        }
        if save {
            let rows = matched
            try await write { connection in
                try connection.run("DELETE FROM mapping")
                for row in rows {
                    try connection.run(
                        "INSERT INTO mapping (dossier_id, siret, inqom_folder_id, inqom_folder_name) VALUES (?, ?, ?, ?)",
                        [.text(row.dossierId), .text(row.siret), .integer(row.inqomFolderId), .text(row.inqomFolderName)])
                }
                try connection.setSetting(.siretAttribute, siretAttribute)
                try Self.requeueNowMapped(connection, at: self.now())
            }
            changes.notify()
        }
        let shared = Dictionary(grouping: matched, by: \.siret).filter { $0.value.count > 1 }
            .map { SharedSiret(siret: $0.key, dossierIds: $0.value.map(\.dossierId)) }.sorted { $0.siret < $1.siret }
        return MappingResult(matched: matched, unmatched: unmatched, sharedSirets: shared)
    }

    /// Documents that failed for want of a mapping go again, with a fresh
    /// attempt budget, once their dossier is mapped.
    static func requeueNowMapped(_ connection: SQLiteConnection, at date: Date) throws {
        let waiting = try connection.rows(
            """
            SELECT seq FROM documents WHERE state = ? AND reason = ?
                AND dossier_id IN (SELECT dossier_id FROM mapping)
            """, [.word(DocumentState.failed), .word(DocumentReason.dossierNotMapped)]
        ) { $0.int(0) }
        for seq in waiting { try connection.requeue(seq, at: date, because: .mapping, detail: "dossier now mapped") }
    }

    /// The saved mapping, page by page.
    public func savedMapping(paging: Paging) async throws -> SavedMapping {
        return try await database.read { connection in
            SavedMapping(
                siretAttribute: try connection.setting(.siretAttribute),
                total: try connection.count("SELECT count(*) FROM mapping"), page: paging.page, pageSize: paging.pageSize,
                items: try connection.rows(
                    """
                    SELECT m.dossier_id, d.name, m.siret, m.inqom_folder_id, m.inqom_folder_name
                    FROM mapping m JOIN dossiers d ON d.id = m.dossier_id ORDER BY d.sort_key, d.id LIMIT ? OFFSET ?
                    """, [.integer(Int64(paging.pageSize)), .integer(Int64(paging.offset))]
                ) {
                    MatchedDossier(
                        dossierId: $0.text(0), name: $0.text(1), siret: $0.text(2), inqomFolderId: $0.int(3),
                        inqomFolderName: $0.text(4))
                })
        }
    }

    public func wizardState() async throws -> WizardState {
        try await database.read { connection in try Self.wizardState(connection) }
    }

    static func wizardState(_ connection: SQLiteConnection) throws -> WizardState {
        let selectedCount = try connection.count("SELECT count(*) FROM dossiers WHERE selected = 1")
        let connected = try isConnected(connection)
        let siretAttribute = try connection.setting(.siretAttribute)
        let matched = try connection.count("SELECT count(*) FROM mapping m JOIN dossiers d ON d.id = m.dossier_id AND d.selected = 1")
        let rules = try connection.count("SELECT count(*) FROM rules")
        let steps = WizardState.Steps(
            dossiers: .init(done: selectedCount > 0, selectedCount: selectedCount),
            connection: .init(
                done: connected, login: try connection.setting(.inqomLogin),
                connectedAt: try connection.setting(.inqomConnectedAt)),
            mapping: .init(
                done: siretAttribute != nil && matched > 0, siretAttribute: siretAttribute, matched: matched,
                unmatched: siretAttribute == nil ? 0 : selectedCount - matched),
            rules: .init(done: rules > 0, count: rules))
        let connector = try connectorStatus(connection)
        return WizardState(state: connector.state, reason: connector.reason, steps: steps)
    }

    private static func isConnected(_ connection: SQLiteConnection) throws -> Bool {
        try connection.setting(.inqomCredentials) != nil && connection.setting(.credentialsUnreadable) == nil
    }

    /// The connector's state, and why it is disconnected, from settings and
    /// two existence checks: cheap enough for every claim, submit and
    /// summary, whatever the size of the catalog (the steps' counts are not).
    static func connectorStatus(_ connection: SQLiteConnection) throws -> StatusSummary.Connector {
        let connected = try isConnected(connection)
        guard try connection.setting(.wizardFinished) != nil else {
            let anything = try connected || connection.setting(.siretAttribute) != nil
                || connection.count("SELECT EXISTS (SELECT 1 FROM dossiers WHERE selected = 1)") > 0
                || connection.count("SELECT EXISTS (SELECT 1 FROM rules)") > 0
            return .init(state: anything ? .configuring : .unconfigured, reason: nil)
        }
        if try connection.setting(.connectorPaused) != nil { return .init(state: .paused, reason: nil) }
        let refused = try connection.setting(.tokenRefused) != nil
        if connected, !refused { return .init(state: .active, reason: nil) }
        let unreadable = try connection.setting(.credentialsUnreadable) != nil
        return .init(
            state: .disconnected,
            reason: unreadable ? "credentials_unreadable" : refused ? "inqom_refused_credentials" : "not_connected")
    }

    /// The end of the wizard: sending starts, or the missing steps are named.
    public func finishWizard() async throws -> ConnectorState {
        let state = try await write { connection in
            let current = try Self.wizardState(connection)
            guard current.missing.isEmpty else { throw EngineError.wizardIncomplete(missing: current.missing) }
            try connection.setSetting(.wizardFinished, Self.timestamp(self.now()))
            return try Self.logStateChange(connection, from: current.state, reason: nil, at: self.now())
        }
        changes.notify()
        return state
    }

    public func setPaused(_ paused: Bool) async throws -> ConnectorState {
        let state = try await write { connection in
            let before = try Self.connectorStatus(connection).state
            try connection.setSetting(.connectorPaused, paused ? "1" : nil)
            return try Self.logStateChange(connection, from: before, reason: nil, at: self.now())
        }
        changes.notify()
        return state
    }

    /// Inqom refused the stored credentials (invalid_grant, invalid_client):
    /// nothing is sent until `wizard.connect` succeeds again.
    func markTokenRefused(_ why: String) async throws {
        try await write { connection in
            let before = try Self.connectorStatus(connection).state
            try connection.setSetting(.tokenRefused, "1")
            try Self.logStateChange(connection, from: before, reason: "inqom_refused_credentials", at: self.now())
        }
        logger.error("Inqom refused the stored credentials: connector disconnected", metadata: ["error": "\(why)"])
    }

    /// Writes `connector.state` when the state changed; returns the new state.
    @discardableResult
    static func logStateChange(_ connection: SQLiteConnection, from before: ConnectorState, reason: String?, at date: Date)
        throws -> ConnectorState
    {
        let after = try connectorStatus(connection).state
        if after != before {
            try connection.appendEvent(
                .connectorState, at: date, ["state": .text(after.rawValue), "reason": reason.map { .text($0) } ?? .null])
        }
        return after
    }

    /// Wipes configuration and credentials; the catalog, documents and events stay.
    public func resetConnector() async throws {
        let now = now()
        try await writeCatalog { connection, index in
            let before = try Self.connectorStatus(connection).state
            for key in SettingKey.allCases where key.isConfiguration { try connection.setSetting(key, nil) }
            try connection.execute("DELETE FROM mapping; DELETE FROM rules; UPDATE dossiers SET selected = 0 WHERE selected = 1")
            index?.clearSelection()
            _ = try Self.logStateChange(connection, from: before, reason: "connector.reset", at: now)
        }
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

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// The credentials as sealed at rest.
struct StoredCredentials: Codable {
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
