import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// The store cannot write (a full disk) just as Inqom answers: the answer
/// is kept and recorded once the store can write, with no restart.
@Suite(.timeLimit(.minutes(1)))
struct FullStoreTests {
    @Test func anOutcomeIsRecordedOnceTheStoreCanWriteAgain() async throws {
        let standIn = try await InqomStandIn()
        let clock = ManualClock()
        let engine = try await EngineFixture.active(standIn, clock: clock, retryDelay: .seconds(30))
        try await standIn.inject("upload", ["hold": true])
        let id = try await engine.defaultConnector.intake.submit(.init(
            dossierID: "d1", path: "Achats/full.pdf", content: .base64(Data("full".utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false)).documentId

        // While the upload is held at Inqom: the database may not grow, and
        // the event log's pages are filled, so the outcome's commit needs
        // a page it cannot have (SQLITE_FULL, as on a full disk).
        try await standIn.waitUntilHeld(1)
        try await engine.database!.write { _ = try $0.rows("PRAGMA max_page_count = 1") { $0.int(0) } }
        // Smaller and smaller rows, until not even an empty one fits: every page the log writes to is full.
        var filled = 0
        for size in [300, 30, 0] {
            while filled < 10_000 {
                do {
                    try await engine.database!.write {
                        try $0.run(
                            "INSERT INTO events (connector, type, at, data) VALUES ('default', 'test.filler', 0, ?)",
                            [.text(String(repeating: "x", count: size))])
                    }
                    filled += 1
                } catch {
                    break
                }
            }
        }
        #expect(filled < 10_000)
        // Then Inqom answers, the outcome's commit fails, and the outcome
        // waits for the store on the engine's clock, with no thread held:
        // its sleep in place of the loop's, which waits for the worker.
        try await standIn.release()
        await clock.waitUntilSleeping(EngineFixture.idleSleepers)
        #expect(try await engine.defaultConnector.documents.status(id: id).state == .sending)
        #expect(try await standIn.stats()["upload"] == 1)
        // Still full a second later: tried, and waiting again.
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers)
        #expect(try await engine.defaultConnector.documents.status(id: id).state == .sending)

        // Room again: at the next try the transmission is recorded, without a second upload.
        try await engine.database!.write { _ = try $0.rows("PRAGMA max_page_count = 1000000") { $0.int(0) } }
        clock.advance(by: .seconds(1))
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
        #expect(try await standIn.stats()["upload"] == 1)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
