import Foundation
import Glibc
import TestSupport
import Testing

@testable import Engine

/// A document the engine cannot send for a reason of its own machine's
/// (its disk, its database), not Inqom's answer: back to the queue with no
/// attempt spent, and due a second later, so that no worker loops on it.
struct NotNowTests {
    @Test func aDocumentWhoseBytesCannotBeReadNowWaitsASecond() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let dataDirectory = TemporaryDirectory.make(prefix: "not-now-engine")
        let engine = try await EngineFixture.active(
            standIn, clock: clock, retryDelay: .seconds(30), dataDirectory: dataDirectory,
            store: .postgres(uri: try await SharedPostgres.newDatabase()))
        // With PostgreSQL each upload reads a copy written there: a file in the directory's place makes that fail.
        let copies = dataDirectory + "/copies"
        #expect(rmdir(copies) == 0)
        #expect(FileManager.default.createFile(atPath: copies, contents: Data()))

        let id = try await EngineFixture.submit("blocked", to: engine).documentId
        let requeued = try await Self.waitForHistory(.requeued, of: id, in: engine)
        #expect(requeued.state == .queued)
        #expect(requeued.attempts == 0)
        let planned = try Date(#require(requeued.nextAttemptAt), strategy: .iso8601)
        try #require(abs(planned.timeIntervalSince(clock.now) - 1) < 0.01, "due \(planned), now \(clock.now)")
        await clock.waitUntilSleeping(EngineFixture.idleSleepersOnPostgres)
        let waiting = try await engine.defaultConnector.documents.status(id: id)
        #expect(waiting.history?.filter { $0.event == .requeued }.count == 1, "tried once, not again and again")

        #expect(unlink(copies) == 0 && mkdir(copies, 0o700) == 0)
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepersOnPostgres)
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
        #expect(try await standIn.stats()["upload"] == 1)
        await engine.stopSending(by: .now + .seconds(1))
    }

    /// The document once a history line of `event` is written, woken by the
    /// engine's commits, a minute of the machine's time at most.
    private static func waitForHistory(_ event: HistoryEvent, of id: String, in engine: Engine) async throws -> DocumentStatus {
        let written = try await engine.afterCommits(within: .seconds(60)) {
            let status = try await engine.defaultConnector.documents.status(id: id)
            return status.history?.contains(where: { $0.event == event }) == true ? status : nil
        }
        guard let written else { throw WaitedTooLong(what: "a history line \(event) for \(id)") }
        return written
    }

    private struct WaitedTooLong: Error {
        let what: String
    }
}
