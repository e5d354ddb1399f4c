import Foundation
import TestSupport
import Testing

@testable import Engine

/// Retries are planned in wall-clock time and kept across restarts; a jump
/// of the clock moves them with it, so waits stay what they were meant to be.
/// Time here is a `ManualClock`: the tests move it, nothing sleeps.
@Suite(.timeLimit(.minutes(1)))
struct ClockJumpTests {

    /// Submits a document that Inqom refuses once (503), and waits until its retry is planned.
    private func submitRefusedOnce(_ engine: Engine, _ standIn: InqomStandIn) async throws -> String {
        try await standIn.inject("upload", ["status": 503])
        let result = try await engine.defaultConnector.intake.submit(.init(
            dossierID: "d1", path: "Achats/jump.pdf", content: .base64(Data("jump".utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
        try await EngineFixture.waitFor(.retrying, result.documentId, in: engine)
        return result.documentId
    }

    @Test func aClockSetBackAnHourDoesNotHoldARetryAnHour() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(1.5))
        let id = try await submitRefusedOnce(engine, standIn)
        await clock.waitUntilSleeping(EngineFixture.idleSleepers)
        clock.jump(by: -3600)
        // Two seconds of elapsed time, a turn at a time: the retry planned 1.5 s after the refusal goes.
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers)
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers)
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
        #expect(try await standIn.stats()["upload"] == 2)
        await engine.stopSending(by: .now + .seconds(1))
    }

    @Test func aClockSetForwardAnHourSpendsNoRetryEarly() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        let id = try await submitRefusedOnce(engine, standIn)
        await clock.waitUntilSleeping(EngineFixture.idleSleepers)
        // The retry is planned 30 s after the refusal, give or take the seeded jitter's 20 %.
        let planned = try Date(#require(try await engine.defaultConnector.documents.status(id: id).nextAttemptAt), strategy: .iso8601)
        let wholeSeconds = Int(planned.timeIntervalSince(clock.now).rounded(.down))
        #expect((24...36).contains(wholeSeconds))
        clock.jump(by: 3600)
        // Until a second before it, a turn at a time, the retry is not due.
        for _ in 0..<wholeSeconds { await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers) }
        let waiting = try await engine.defaultConnector.documents.status(id: id)
        #expect(waiting.state == .retrying)
        #expect(waiting.attempts == 1)
        #expect(try await standIn.stats()["upload"] == 1)
        // And at its time it goes.
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers)
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
        await engine.stopSending(by: .now + .seconds(1))
    }

    /// A machine resumed after hours: its wall clock jumps forward, and a
    /// document submitted before the sender notices goes at once, not hours later.
    @Test func aDocumentSubmittedJustAfterAJumpIsNotMovedWithIt() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        await clock.waitUntilSleeping(EngineFixture.idleSleepers)
        clock.jump(by: 5 * 3600)
        let result = try await engine.defaultConnector.intake.submit(.init(
            dossierID: "d1", path: "Achats/resumed.pdf", content: .base64(Data("resumed".utf8).base64EncodedString()),
            documentID: nil, depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
        try await EngineFixture.waitFor(.transmitted, result.documentId, in: engine)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
