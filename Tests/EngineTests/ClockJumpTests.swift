import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Engine

/// A wall clock that runs with elapsed time and can be set to jump.
final class JumpingClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    func jump(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}

/// Retries are planned in wall-clock time and kept across restarts; a jump
/// of the clock moves them with it, so waits stay what they were meant to be.
struct ClockJumpTests {
    private func activeEngine(_ standIn: InqomStandIn, clock: JumpingClock, retryDelay: Duration) async throws -> Engine {
        let configuration = EngineConfiguration(
            dataDirectory: TemporaryDirectory.make(prefix: "clock-engine"), timeZone: TimeZone(identifier: "Europe/Paris")!,
            inqomAuthURL: standIn.url, inqomAPIURL: standIn.url, inqomClientID: InqomStandIn.clientID, workers: 1, maxAttempts: 6,
            retryDelays: [retryDelay], inqomMaxRequestsPerSecond: 0, circuitProbeInterval: .seconds(30), maxFileBytes: 1 << 20,
            filesRoot: nil, shutdownGrace: .seconds(1), smtp: nil, digestAtMinutes: 7 * 60)
        let engine = try await Engine(configuration: configuration, environment: [:], logger: Logger(label: "test"), now: { clock.now })
        _ = try await engine.upsertDossiers([Dossier(id: "d1", name: "Boulangerie", attributes: ["SIRET": "73282932000074"])])
        _ = try await engine.selectDossiers(ids: ["d1"], query: nil, selected: true)
        _ = try await engine.connect(.init(login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: InqomStandIn.clientSecret))
        _ = try await engine.mapDossiers(siretAttribute: "SIRET", save: true)
        _ = try await engine.addRule(depositPath: "Achats", documentType: .factureAchat, archivePath: nil, period: .any)
        _ = try await engine.finishWizard()
        engine.startSending()
        return engine
    }

    /// Submits a document that Inqom refuses once (503), and waits until its retry is planned.
    private func submitRefusedOnce(_ engine: Engine, _ standIn: InqomStandIn) async throws -> String {
        try await standIn.inject("upload", ["status": 503])
        let result = try await engine.submit(.init(
            dossierID: "d1", path: "Achats/jump.pdf", content: .base64(Data("jump".utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
        for _ in 0..<200 where try await engine.documentStatus(id: result.documentId).state != "retrying" {
            try await Task.sleep(for: .milliseconds(10))
        }
        return result.documentId
    }

    @Test func aClockSetBackAnHourDoesNotHoldARetryAnHour() async throws {
        let standIn = try await InqomStandIn()
        let clock = JumpingClock()
        let engine = try await activeEngine(standIn, clock: clock, retryDelay: .seconds(1.5))
        let id = try await submitRefusedOnce(engine, standIn)
        clock.jump(by: -3600)
        var state = ""
        for _ in 0..<100 where state != "transmitted" {
            try await Task.sleep(for: .milliseconds(100))
            state = try await engine.documentStatus(id: id).state
        }
        #expect(state == "transmitted")
        await engine.stopSending(by: .now + .seconds(1))
    }

    @Test func aClockSetForwardAnHourSpendsNoRetryEarly() async throws {
        let standIn = try await InqomStandIn()
        let clock = JumpingClock()
        let engine = try await activeEngine(standIn, clock: clock, retryDelay: .seconds(30))
        let id = try await submitRefusedOnce(engine, standIn)
        clock.jump(by: 3600)
        try await Task.sleep(for: .seconds(2.5))
        let document = try await engine.documentStatus(id: id)
        #expect(document.state == "retrying")
        #expect(document.attempts == 1)
        #expect(try await standIn.stats()["upload"] == 1)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
