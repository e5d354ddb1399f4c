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
    /// Submits a document that Inqom refuses once (503), and waits until its retry is planned.
    private func submitRefusedOnce(_ engine: Engine, _ standIn: InqomStandIn) async throws -> String {
        try await standIn.inject("upload", ["status": 503])
        let result = try await engine.submit(.init(
            dossierID: "d1", path: "Achats/jump.pdf", content: .base64(Data("jump".utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false))
        for _ in 0..<200 where try await engine.documentStatus(id: result.documentId).state != .retrying {
            try await Task.sleep(for: .milliseconds(10))
        }
        return result.documentId
    }

    @Test func aClockSetBackAnHourDoesNotHoldARetryAnHour() async throws {
        let standIn = try await InqomStandIn()
        let clock = JumpingClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(1.5))
        let id = try await submitRefusedOnce(engine, standIn)
        clock.jump(by: -3600)
        var state: DocumentState?
        for _ in 0..<100 where state != .transmitted {
            try await Task.sleep(for: .milliseconds(100))
            state = try await engine.documentStatus(id: id).state
        }
        #expect(state == .transmitted)
        await engine.stopSending(by: .now + .seconds(1))
    }

    @Test func aClockSetForwardAnHourSpendsNoRetryEarly() async throws {
        let standIn = try await InqomStandIn()
        let clock = JumpingClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        let id = try await submitRefusedOnce(engine, standIn)
        clock.jump(by: 3600)
        try await Task.sleep(for: .seconds(2.5))
        let document = try await engine.documentStatus(id: id)
        #expect(document.state == .retrying)
        #expect(document.attempts == 1)
        #expect(try await standIn.stats()["upload"] == 1)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
