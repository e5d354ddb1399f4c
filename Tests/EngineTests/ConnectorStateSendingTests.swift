import Foundation
import TestSupport
import Testing

@testable import Engine

/// Only an active connector sends; time here is a `ManualClock`, so "nothing
/// was sent" means the sender looked, found nothing it may send, and slept.
@Suite(.timeLimit(.minutes(1)))
struct ConnectorStateSendingTests {
    @Test func aDisconnectedConnectorSendsNothingUntilConnectedAgain() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        try await engine.defaultConnector.setup.disconnect()
        let waiting = try await EngineFixture.submit("waits", to: engine)
        #expect(waiting.state == .queued)
        // A minute of the engine's time: every sleep of the sender ends and it looks again.
        await clock.advance(by: .seconds(60), thenWaitFor: EngineFixture.idleSleepers)
        #expect(try await engine.defaultConnector.documents.status(id: waiting.documentId).state == .queued)
        #expect(try await standIn.uploads().isEmpty)
        _ = try await engine.defaultConnector.setup.connect(.init(login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: InqomStandIn.clientSecret))
        try await EngineFixture.waitFor(.transmitted, waiting.documentId, in: engine)
        await engine.stopSending(by: .now + .seconds(1))
    }

    @Test func aPausedConnectorSendsNothingUntilResumed() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        _ = try await engine.defaultConnector.setup.setPaused(true)
        let waiting = try await EngineFixture.submit("paused", to: engine)
        await clock.advance(by: .seconds(60), thenWaitFor: EngineFixture.idleSleepers)
        #expect(try await engine.defaultConnector.documents.status(id: waiting.documentId).state == .queued)
        #expect(try await standIn.uploads().isEmpty)
        _ = try await engine.defaultConnector.setup.setPaused(false)
        try await EngineFixture.waitFor(.transmitted, waiting.documentId, in: engine)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
