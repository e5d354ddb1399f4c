import Foundation
import TestSupport
import Testing

@testable import Engine

/// Inqom down, then back: the retries planned during the outage do not wait
/// out their delays once a probe has been answered. Time is a `ManualClock`.
@Suite(.timeLimit(.minutes(1)))
struct OutageRecoveryTests {
    @Test func theRetriesOfAnOutageGoOnceTheProbeSucceeds() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(600))
        // Five refusals in a row open the circuit; each refused document plans its retry 10 minutes on (± 20 %).
        try await standIn.inject("upload", count: CircuitBreaker.threshold, ["status": 503])
        var refused: [String] = []
        for index in 0..<CircuitBreaker.threshold {
            refused.append(try await EngineFixture.submit("refused-\(index)", to: engine).documentId)
            try await EngineFixture.waitFor(.retrying, refused[index], in: engine)
        }
        #expect(engine.sender?.isCircuitOpen == true)
        // A new document waits for the probe, 30 s on; Inqom is back by then.
        let probe = try await EngineFixture.submit("probe", to: engine).documentId
        await clock.waitUntilSleeping(EngineFixture.idleSleepers)
        for _ in 0..<30 { await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers) }
        for id in [probe] + refused { try await EngineFixture.waitFor(.transmitted, id, in: engine) }
        #expect(try await standIn.stats()["upload"] == 2 * CircuitBreaker.threshold + 1)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
