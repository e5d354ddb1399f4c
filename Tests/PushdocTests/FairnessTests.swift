import Foundation
import TestSupport
import Testing

/// One firm's backlog does not hold another firm's document: with Inqom
/// answering in 50 ms and firm A's 5,000 documents filling every worker, a
/// document of firm B goes as soon as a worker is free, not behind the backlog.
struct FairnessTests {
    @Test func oneFirmsBacklogDoesNotDelayAnotherFirmsDocument() async throws {
        let harness = try await PushHarness(extra: ["--workers", "4", "--connector-workers", "4", "--inqom-max-rps", "0"])
        try await harness.addConnector("firm-b")
        let b = #""connector":"firm-b""#

        // Firm A's backlog, accepted while paused, then Inqom slows to 50 ms an upload.
        try await harness.expectResult("connector.pause")
        let backlog = 5_000
        for index in 0..<backlog {
            let content = Data("backlog \(index)".utf8).base64EncodedString()
            harness.engine.stdio.send(
                #"{"jsonrpc":"2.0","id":\#(100_000 + index),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/a-\#(index).pdf","contentBase64":"\#(content)"}}"#)
        }
        for index in 0..<backlog {
            #expect(try await harness.engine.stdio.response(id: 100_000 + index, timeout: .seconds(120))["result"] != nil)
        }
        // Inqom answers in 50 ms; A's first four uploads are held there, so every worker is A's.
        _ = try await harness.standIn.control("random-faults", ["seed": 1, "rate": 0.0, "statuses": [503], "delay": 0.05])
        try await harness.standIn.inject("upload", count: 4, ["hold": true])
        _ = try await harness.call("events.subscribe", #"{\#(b)}"#)
        try await harness.expectResult("connector.resume")
        try await harness.standIn.waitUntilHeld(4)
        let submitted = try await harness.call(
            "push.submit", #"{\#(b),"dossierId":"d1","path":"Achats/b.pdf","contentBase64":"\#(Data("firm b".utf8).base64EncodedString())"}"#)
        #expect(submitted.string("result", "state") == "queued")
        let released = ContinuousClock.now
        try await harness.standIn.release()
        let transmitted = try await harness.engine.stdio.take(timeout: .seconds(60)) {
            $0.string("method") == "event" && $0.string("params", "type") == "document.transmitted"
        }
        let waited = ContinuousClock.now - released
        #expect(transmitted.string("params", "connector") == "firm-b")
        // Behind the backlog it would wait 5,000 × 50 ms ÷ 4 workers, over a minute.
        #expect(waited < .seconds(3), "firm B's document waited \(waited)")
        let summary = try await harness.call("status.summary")
        #expect((summary.int("result", "documents", "transmitted") ?? backlog) < backlog / 2)
        print("fairness: firm B's document transmitted \(waited) after the workers were freed, behind \(backlog) of firm A's")
    }
}
