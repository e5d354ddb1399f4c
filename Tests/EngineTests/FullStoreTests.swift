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
        let id = try await engine.intake.submit(.init(
            dossierID: "d1", path: "Achats/full.pdf", content: .base64(Data("full".utf8).base64EncodedString()), documentID: nil,
            depositedAt: nil, force: false, expectedSize: nil, expectedSHA256: nil, dryRun: false)).documentId

        // While the upload is held at Inqom: the database may not grow, and
        // the event log's last page is filled, so the outcome's commit needs
        // a page it cannot have (SQLITE_FULL, as on a full disk).
        try await standIn.waitUntilHeld(1)
        try await engine.database.write { _ = try $0.rows("PRAGMA max_page_count = 1") { $0.int(0) } }
        var filled = 0
        while filled < 1_000 {
            do {
                try await engine.database.write {
                    try $0.run("INSERT INTO events (type, at, data) VALUES ('test.filler', 0, ?)", [.text(String(repeating: "x", count: 300))])
                }
                filled += 1
            } catch {
                break
            }
        }
        #expect(filled < 1_000)
        // Then Inqom answers, the outcome's commit fails, and the outcome
        // waits for the store: one more sleeper on the engine's clock, and no thread held.
        try await standIn.release()
        await clock.waitUntilSleeping(EngineFixture.idleSleepers + 1)
        #expect(try await engine.documents.status(id: id).state == .sending)
        #expect(try await standIn.stats()["upload"] == 1)
        // Still full a second later: tried, and waiting again.
        await clock.advance(by: .seconds(1), thenWaitFor: EngineFixture.idleSleepers + 1)
        #expect(try await engine.documents.status(id: id).state == .sending)

        // Room again: at the next try the transmission is recorded, without a second upload.
        try await engine.database.write { _ = try $0.rows("PRAGMA max_page_count = 1000000") { $0.int(0) } }
        clock.advance(by: .seconds(1))
        try await EngineFixture.waitFor(.transmitted, id, in: engine)
        #expect(try await standIn.stats()["upload"] == 1)
        await engine.stopSending(by: .now + .seconds(1))
    }
}
