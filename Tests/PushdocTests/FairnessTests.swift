import Foundation
import TestSupport
import Testing

/// A backlog does not hold a newcomer: with Inqom answering in 50 ms and 1,000
/// documents of dossier `d1` of the default firm filling every worker, a
/// document of another firm, or of another dossier of the same firm, goes as
/// soon as a worker is free, not behind the backlog.
struct FairnessTests {
    @Test func oneFirmsBacklogDoesNotDelayAnotherFirmsDocument() async throws {
        try await expectNewcomerNotBehindBacklog(connector: "firm-b", dossier: "d1") { harness in
            try await harness.addConnector("firm-b")
        }
    }

    @Test func oneDossiersBacklogDoesNotDelayAnotherDossierOfTheSameFirm() async throws {
        try await expectNewcomerNotBehindBacklog(connector: "default", dossier: "d4") { try await addSecondDossier(to: $0) }
    }

    /// Under Inqom's rate limit a worker takes its slot before it chooses a
    /// document: a newcomer goes at the next slot, not behind the documents
    /// the four workers would otherwise hold, one each, for their slots.
    @Test func underTheRateLimitANewcomerGoesAtTheNextSlot() async throws {
        // At 2 requests/s an upload and its outcome take far less than a slot's 500 ms, even on
        // a loaded machine: the rate, not the workers, sets the pace.
        let harness = try await PushHarness(extra: ["--workers", "4", "--connector-workers", "4", "--inqom-max-rps", "2"])
        try await addSecondDossier(to: harness)
        try await harness.expectResult("connector.pause")
        let backlog = 50
        for index in 0..<backlog {
            harness.engine.stdio.send(
                #"{"jsonrpc":"2.0","id":\#(100_000 + index),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/a-\#(index).pdf","contentBase64":"\#(Data("backlog \(index)".utf8).base64EncodedString())"}}"#)
        }
        for index in 0..<backlog {
            #expect(try await harness.engine.stdio.response(id: 100_000 + index, timeout: .seconds(60))["result"] != nil)
        }
        _ = try await harness.call("events.subscribe")
        try await harness.expectResult("connector.resume")
        // Every worker is in its round of slots once a few documents have gone; the newcomer
        // comes just after an upload ended, 500 ms before the next slot.
        for _ in 0..<6 {
            _ = try await harness.engine.stdio.take(timeout: .seconds(20)) {
                $0.string("method") == "event" && $0.string("params", "type") == "document.transmitted"
            }
        }
        let submitted = try await harness.call(
            "push.submit", #"{"dossierId":"d4","path":"Achats/newcomer.pdf","contentBase64":"\#(Data("newcomer".utf8).base64EncodedString())"}"#)
        let newcomer = try #require(submitted.string("result", "documentId"))
        _ = try await harness.engine.stdio.take(timeout: .seconds(20)) {
            $0.string("method") == "event" && $0.string("params", "type") == "document.transmitted"
                && $0.string("params", "data", "documentId") == newcomer
        }
        let events = try await harness.events()
        func seq(_ type: String) -> Int? {
            events.first { $0["type"] as? String == type && ($0["data"] as? [String: Any])?["documentId"] as? String == newcomer }?["seq"] as? Int
        }
        let (queued, transmitted) = (try #require(seq("document.queued")), try #require(seq("document.transmitted")))
        let ahead = events.filter { event in
            guard let at = event["seq"] as? Int else { return false }
            return at > queued && at < transmitted && event["type"] as? String == "document.transmitted"
        }.count
        // The one upload under way, and one whose slot came as the newcomer was kept, at most.
        #expect(ahead <= 2, "\(ahead) of the backlog went ahead of the newcomer")
        print("fairness at 2 requests/s: \(ahead) of the backlog went ahead of the newcomer")
    }

    /// Dossier d4, the stand-in's folder 11288 "HÔTEL DU PORT", in the default firm beside d1.
    private func addSecondDossier(to harness: PushHarness) async throws {
        try await harness.expectResult(
            "catalog.upsertDossiers", #"{"dossiers":[{"id":"d4","name":"Hôtel du Port","attributes":{"SIRET":"55210055400013"}}]}"#)
        try await harness.expectResult("wizard.selectDossiers", #"{"ids":["d4"],"selected":true}"#)
        try await harness.expectResult("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
    }

    private func expectNewcomerNotBehindBacklog(
        connector: String, dossier: String, prepare: (PushHarness) async throws -> Void
    ) async throws {
        let harness = try await PushHarness(extra: ["--workers", "4", "--connector-workers", "4", "--inqom-max-rps", "0"])
        try await prepare(harness)

        // The default firm's backlog in d1, accepted while paused, then Inqom slows to 50 ms an upload.
        try await harness.expectResult("connector.pause")
        let backlog = 1_000
        for index in 0..<backlog {
            let content = Data("backlog \(index)".utf8).base64EncodedString()
            harness.engine.stdio.send(
                #"{"jsonrpc":"2.0","id":\#(100_000 + index),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/a-\#(index).pdf","contentBase64":"\#(content)"}}"#)
        }
        for index in 0..<backlog {
            #expect(try await harness.engine.stdio.response(id: 100_000 + index, timeout: .seconds(120))["result"] != nil)
        }
        // Inqom answers in 50 ms; the backlog's first four uploads are held there, so every worker is busy with it.
        _ = try await harness.standIn.control("random-faults", ["seed": 1, "rate": 0.0, "statuses": [503], "delay": 0.05])
        try await harness.standIn.inject("upload", count: 4, ["hold": true])
        let subscribed = try await harness.call("events.subscribe", #"{"connector":"\#(connector)"}"#)
        let backlogQueued = try #require(subscribed.int("result", "lastSeq"))
        try await harness.expectResult("connector.resume")
        try await harness.standIn.waitUntilHeld(4)
        let submitted = try await harness.call(
            "push.submit",
            #"{"connector":"\#(connector)","dossierId":"\#(dossier)","path":"Achats/newcomer.pdf","contentBase64":"\#(Data("newcomer".utf8).base64EncodedString())"}"#)
        #expect(submitted.string("result", "state") == "queued")
        let newcomer = try #require(submitted.string("result", "documentId"))
        let released = ContinuousClock.now
        try await harness.standIn.release()
        let transmitted = try await harness.engine.stdio.take(timeout: .seconds(60)) {
            $0.string("method") == "event" && $0.string("params", "type") == "document.transmitted"
                && $0.string("params", "data", "documentId") == newcomer
        }
        let waited = ContinuousClock.now - released
        let newcomerSeq = try #require(transmitted.int("params", "seq"))
        // Counted in the engine's order of events, not in time, which a loaded machine stretches.
        let ahead = try await harness.events(after: backlogQueued).filter { event in
            (event["seq"] as? Int ?? .max) < newcomerSeq && event["type"] as? String == "document.transmitted"
                && event["connector"] as? String == "default"
        }.count
        // The four held, and at most two more rounds of the four workers; behind the backlog, all 1,000.
        #expect(ahead <= 12, "\(ahead) of default/d1's backlog went ahead of the newcomer of \(connector)/\(dossier)")
        print("fairness: \(connector)/\(dossier)'s document transmitted \(waited) after the workers were freed, \(ahead) of \(backlog) of default/d1 ahead of it")
    }
}
