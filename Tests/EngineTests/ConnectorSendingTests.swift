import Foundation
import TestSupport
import Testing

@testable import Engine

/// Two firms in one engine, each with its own Inqom login: each sends with
/// its own token to its own folders, and one firm's revoked password stops
/// that firm only.
@Suite(.timeLimit(.minutes(1)))
struct ConnectorSendingTests {
    static let garage = InqomStandIn.Account(login: "garage@example.fr", password: "garage-pw", folders: [11289])

    /// Waits for the document's state in its connector, woken by the engine's commits.
    private func waitFor(_ state: DocumentState, _ id: String, of connector: Connector, in engine: Engine) async throws {
        let reached = try await engine.afterCommits(within: .seconds(30)) {
            try await connector.documents.status(id: id).state == state ? true : nil
        }
        if reached == nil { Issue.record("\(connector.name)'s document \(id) never became \(state)") }
    }

    private func submit(_ id: String, _ content: String, to connector: Connector) async throws {
        _ = try await connector.intake.submit(.init(
            dossierID: "d1", path: "Achats/\(id).pdf", content: .base64(Data(content.utf8).base64EncodedString()), documentID: id,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
    }

    @Test func eachFirmSendsWithItsOwnLoginAndARevokedPasswordStopsOnlyItsFirm() async throws {
        let standIn = try await InqomStandIn(
            folders: InqomStandIn.defaultFolders + [.init(id: 11289, name: "GARAGE DUPRE", siren: "443061841", nic: "00047")],
            otherAccounts: [Self.garage])
        let engine = try await EngineFixture.active(standIn, retryDelay: .seconds(30))
        let firmA = try await engine.connector(.default)
        let firmB = try await engine.connector(ConnectorName("garage-dupre")!)
        // Firm B: the same dossier id, its own SIRET, login, mapping and rule.
        _ = try await firmB.catalog.upsert([Dossier(id: "d1", name: "Garage", attributes: ["SIRET": "44306184100047"])])
        _ = try await firmB.catalog.select(ids: ["d1"], query: nil, selected: true)
        #expect(try await firmB.setup.connect(.init(login: Self.garage.login, password: Self.garage.password, clientSecret: InqomStandIn.clientSecret)) == 1)
        #expect(try await firmB.setup.mapDossiers(siretAttribute: "SIRET", save: true).matched.map(\.inqomFolderId) == [11289])
        _ = try await firmB.rules.add(depositPath: "Achats", documentType: .factureAchat, archivePath: nil, period: .any)
        #expect(try await firmB.setup.finishWizard() == .active)

        // The same document id in both firms: two documents, each to its own folder with its own login.
        try await submit("inv-1", "boulangerie", to: firmA)
        try await submit("inv-1", "garage", to: firmB)
        try await waitFor(.transmitted, "inv-1", of: firmA, in: engine)
        try await waitFor(.transmitted, "inv-1", of: firmB, in: engine)
        let sent = try await standIn.uploads().map { "\($0["account"] as? String ?? "?") → \($0["folderId"] as? Int ?? 0)" }
        #expect(sent.sorted() == ["cabinet@example.fr → 11287", "garage@example.fr → 11289"])

        // Firm B's password is changed at Inqom and every token lapses: B is disconnected, A goes on.
        _ = try await standIn.control("password", ["username": Self.garage.login, "password": "changed"])
        _ = try await standIn.control("expire-tokens", [:])
        try await submit("inv-2", "garage 2", to: firmB)
        try await submit("inv-2", "boulangerie 2", to: firmA)
        try await waitFor(.transmitted, "inv-2", of: firmA, in: engine)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await firmB.setup.status().state != .disconnected, ContinuousClock.now < deadline {
            let seen = engine.changes.generation
            await engine.changes.wait(after: seen, timeout: .seconds(1), on: SystemClock())
        }
        #expect(try await firmB.setup.status() == ConnectorStatus(state: .disconnected, reason: "inqom_refused_credentials"))
        #expect(try await firmB.documents.status(id: "inv-2").state == .queued)
        #expect(try await firmA.setup.status().state == .active)
        await engine.stopSending(by: .now + .seconds(1))
    }

    /// Memory follows the connectors in use: past the capacity, the least
    /// recently used is dropped, and comes back whole from its rows.
    @Test func theLeastRecentlyUsedConnectorIsDroppedFromMemoryAndComesBackFromItsRows() async throws {
        let standIn = try await InqomStandIn()
        let engine = try await EngineFixture.active(standIn, retryDelay: .seconds(30))
        let first = try await engine.connector(ConnectorName("firm-0")!)
        _ = try await first.catalog.upsert([Dossier(id: "D1", name: "Première", attributes: [:])])
        for index in 1...Engine.connectorsInMemory {
            _ = try await engine.connector(ConnectorName("firm-\(index)")!)
        }
        #expect(engine.connectors.count == Engine.connectorsInMemory)
        let again = try await engine.connector(ConnectorName("firm-0")!)
        #expect(try await again.catalog.search(query: "prem", paging: Paging(page: 1, pageSize: 10), selectedOnly: false).total == 1)
        #expect(engine.connectors.count == Engine.connectorsInMemory)
        // The default connector, used by the fixture, was dropped too, and still sends.
        try await submit("after-drop", "after", to: try await engine.connector(.default))
        try await waitFor(.transmitted, "after-drop", of: try await engine.connector(.default), in: engine)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
