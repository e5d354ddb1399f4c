import Foundation
import TestSupport
import Testing

@testable import Engine

/// An access token is renewed on the engine's clock, shortly before it
/// lapses, and not before.
@Suite(.timeLimit(.minutes(1)))
struct TokenRenewalTests {
    private func send(_ name: String, to engine: Engine) async throws {
        let id = try await engine.defaultConnector.intake.submit(.init(
            dossierID: "d1", path: "Achats/\(name).pdf", content: .base64(Data(name.utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false)).documentId
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
    }

    @Test func aTokenIsRenewedShortlyBeforeItLapsesAndNotBefore() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        try await send("first", to: engine)
        let issued = try await standIn.tokens().count
        // The stand-in's tokens last 3,600 s; the engine renews 30 s before.
        clock.jump(by: 3_560)
        try await send("still-valid", to: engine)
        #expect(try await standIn.tokens().count == issued)
        clock.jump(by: 20)
        try await send("renewed", to: engine)
        #expect(try await standIn.tokens().count == issued + 1)
        #expect(try await standIn.stats()["upload"] == 3)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
