import Foundation
import Logging
import TestSupport
import Testing

@testable import Engine

extension Engine {
    /// The connector of a client that names none.
    var defaultConnector: Connector {
        get async throws { try await connector(.default) }
    }

    /// What `look` finds, looked at again after each of the engine's
    /// commits; nil once `limit` of the machine's time has passed.
    func afterCommits<T>(within limit: Duration, _ look: () async throws -> T?) async throws -> T? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let seen = changes.generation
            if let found = try await look() { return found }
            await changes.wait(after: seen, timeout: deadline - .now, on: SystemClock())
        }
        return nil
    }
}

enum EngineFixture {
    /// An engine in this process, its wizard walked against `standIn`: dossier
    /// d1 mapped, one rule for `Achats`, one worker, sending started.
    static func active(
        _ standIn: InqomStandIn, clock: ManualClock = ManualClock(), retryDelay: Duration,
        dataDirectory: String = TemporaryDirectory.make(prefix: "clock-engine"), store: EngineConfiguration.StateStore = .sqlite
    ) async throws -> Engine {
        var configuration = EngineConfiguration(
            dataDirectory: dataDirectory, timeZone: TimeZone(identifier: "Europe/Paris")!,
            inqomAuthURL: standIn.url, inqomAPIURL: standIn.url, inqomClientID: InqomStandIn.clientID, workers: 1, maxAttempts: 6,
            retryDelays: [retryDelay], inqomMaxRequestsPerSecond: 0, circuitProbeInterval: .seconds(30), maxFileBytes: 1 << 20,
            filesRoot: nil, shutdownGrace: .seconds(1), smtp: nil, digestAtMinutes: 7 * 60)
        configuration.store = store
        // With PostgreSQL the master key is the deployment's: given, never made.
        let environment = store == .sqlite ? [:] : ["PUSHDOC_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString()]
        let engine = try await Engine(
            configuration: configuration, environment: environment, logger: Logger(label: "test"), clock: clock,
            random: RandomSource(SplitMix64(seed: 18)))
        _ = try await engine.defaultConnector.catalog.upsert([Dossier(id: "d1", name: "Boulangerie", attributes: ["SIRET": "73282932000074"])])
        _ = try await engine.defaultConnector.catalog.select(ids: ["d1"], query: nil, selected: true)
        _ = try await engine.defaultConnector.setup.connect(.init(login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: InqomStandIn.clientSecret))
        _ = try await engine.defaultConnector.setup.mapDossiers(siretAttribute: "SIRET", save: true)
        _ = try await engine.defaultConnector.rules.add(depositPath: "Achats", documentType: .factureAchat, archivePath: nil, period: .any)
        _ = try await engine.defaultConnector.setup.finishWizard()
        engine.startSending()
        return engine
    }

    /// Submits a small document named `name` to dossier d1's `Achats`.
    static func submit(_ name: String, to engine: Engine) async throws -> SubmissionResult {
        try await engine.defaultConnector.intake.submit(.init(
            dossierID: "d1", path: "Achats/\(name).pdf", content: .base64(Data(name.utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
    }

    /// The sender's nap, the digest schedule's and the event retention's: all
    /// asleep on the `ManualClock` means the engine's turn is over.
    static let idleSleepers = 3
    /// The same with PostgreSQL, where the lease renewal sleeps too.
    static let idleSleepersOnPostgres = idleSleepers + 1

    /// Waits for the document's state, woken by the engine's commits, a minute
    /// of the machine's time at most.
    static func waitFor(_ state: DocumentState, _ id: String, in engine: Engine) async throws {
        let reached = try await engine.afterCommits(within: .seconds(60)) {
            try await engine.defaultConnector.documents.status(id: id).state == state ? true : nil
        }
        if reached == nil { Issue.record("document \(id) never became \(state)") }
    }
}
