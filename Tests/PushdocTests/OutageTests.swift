import Foundation
import Glibc
import TestSupport
import Testing

/// Inqom away for "hours" (compressed: many times the retry schedule):
/// answering 503, refusing connections, or not even resolving. No attempt
/// is burnt while the circuit is open; everything goes once Inqom is back.
struct OutageTests {
    /// Attempts spent by all documents, and how many failed.
    private func spent(_ harness: PushHarness) async throws -> (attempts: Int, failed: Int) {
        let items = try await harness.call("status.documents", #"{"limit":1000}"#).at("result", "items") as? [[String: Any]] ?? []
        return (items.compactMap { $0["attempts"] as? Int }.reduce(0, +), items.filter { $0["state"] as? String == "failed" }.count)
    }

    private func submitBatch(_ harness: PushHarness, count: Int) async throws {
        _ = try await harness.expectResult("connector.pause")
        for index in 0..<count { _ = try await harness.submit("d1", "Achats/o-\(index).pdf", content: "outage \(index)") }
        _ = try await harness.expectResult("connector.resume")
    }

    @Test func aLongOutageSpendsNoAttemptAndEverythingGoesAfter() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", count: 1_000_000, ["status": 503])
        try await submitBatch(harness, count: 20)
        let outageStarted = ContinuousClock.now
        // 4 s: forty times the longest retry delay, thirteen probe intervals.
        try await Task.sleep(for: .seconds(4))
        let during = try await spent(harness)
        #expect(during.failed == 0)
        #expect(during.attempts <= 5, "\(during.attempts) attempts spent during the outage")
        #expect(try await harness.call("status.summary").string("result", "inqom", "circuit") == "open")
        let probes = try await harness.standIn.stats()["upload"] ?? 0
        // The five failures that open the circuit, the uploads already under way
        // when it opens (3 more at most, beside the fifth: 4 per connector), then
        // one probe per 0.3 s at most.
        let allowed = 5 + 3 + Int((ContinuousClock.now - outageStarted) / .milliseconds(300)) + 1
        #expect(probes <= allowed, "\(probes) uploads tried during the outage")
        _ = try await harness.standIn.control("reset", [:])
        let drained = try await harness.drain()
        #expect(drained.int("result", "documents", "transmitted") == 20)
        #expect(drained.int("result", "documents", "failed") == 0)
        print("outage: 20 documents, 4 s of 503 (40 × the longest retry delay), \(during.attempts) attempts spent, "
            + "\(probes) uploads tried, 0 failed, 20 transmitted after")
    }

    @Test(arguments: ["connection refused", "unknown host"])
    func anUnreachableInqomSpendsNoAttempt(_ how: String) async throws {
        var harness = try await PushHarness()
        let unreachable = how == "unknown host" ? "https://inqom.invalid" : "http://127.0.0.1:\(try LoopbackPort.unused())"
        try await harness.restart(
            ["serve", "--stdio", "--inqom-auth-url", harness.standIn.url.absoluteString, "--inqom-api-url", unreachable]
                + PushHarness.engineOptions)
        try await submitBatch(harness, count: 10)
        try await Task.sleep(for: .seconds(2))
        let during = try await spent(harness)
        #expect(during.failed == 0)
        #expect(during.attempts <= 5, "\(during.attempts) attempts spent while Inqom was unreachable")
        try await harness.restart()
        let drained = try await harness.drain()
        #expect(drained.int("result", "documents", "transmitted") == 10)
    }
}
