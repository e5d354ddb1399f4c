import Foundation
import TestSupport
import Testing

/// Every row of protocol/inqom.md's answer table, through the real engine.
struct FaultClassTests {
    static let transient: [[String: any Sendable]] = [
        ["status": 408], ["status": 425], ["status": 429], ["status": 500], ["status": 502], ["status": 503], ["status": 504],
        ["reset": true], ["status": 503, "retryAfter": 1],
    ]

    @Test(arguments: 0..<transient.count)
    func aTransientAnswerIsRetriedThenTheDocumentGoes(_ index: Int) async throws {
        let harness = try await PushHarness()
        let fault = Self.transient[index]
        // A reset on a kept-alive connection before any answer byte is retried by
        // libcurl itself, at once, on a new one; the second reset then reaches the engine.
        let isReset = fault["reset"] != nil
        try await harness.standIn.inject("upload", count: isReset ? 2 : 1, fault)
        let id = try #require(try await harness.submit("d1", "Achats/t.pdf", content: "transient").string("result", "documentId"))
        _ = try await harness.drain()
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "transmitted", "\(fault)")
        let attempts = document.int("result", "attempts") ?? 0
        #expect(isReset ? (2...3).contains(attempts) : attempts == 2, "\(attempts) attempts")
        #expect(try await harness.events().contains { $0["type"] as? String == "document.retry_scheduled" })
    }

    @Test func aHangingInqomIsGivenUpAfterTheStallBoundAndTheDocumentGoesLater() async throws {
        let harness = try await PushHarness(extra: ["--inqom-stall-seconds", "1"])
        try await harness.standIn.inject("upload", ["hang": 30])
        let started = ContinuousClock.now
        let id = try #require(try await harness.submit("d1", "Achats/h.pdf", content: "hang").string("result", "documentId"))
        _ = try await harness.drain(timeoutMs: 25_000)
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "transmitted")
        #expect(document.int("result", "attempts") == 2)
        // Well before the 30 s hang could end on its own.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func retryAfterAsAnHTTPDateIsHonoured() async throws {
        let harness = try await PushHarness()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        // Whole seconds only in an HTTP date: the date given is 2 to 3 s ahead.
        let notBefore = (Date().timeIntervalSince1970 + 3).rounded(.down)
        try await harness.standIn.inject(
            "upload", ["status": 503, "retryAfter": formatter.string(from: Date(timeIntervalSince1970: notBefore))])
        let id = try #require(try await harness.submit("d1", "Achats/d.pdf", content: "http date").string("result", "documentId"))
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
        // The stand-in's clock is this machine's: the upload it kept came at the date it gave, or after.
        let received = try #require(try await harness.standIn.uploads().first?["at"] as? Double)
        #expect(received >= notBefore, "sent again \(notBefore - received) s before the date Inqom gave")
    }

    @Test(arguments: [400, 403, 409, 413, 415, 422])
    func aPermanentAnswerFailsTheDocumentAtOnce(_ status: Int) async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", ["status": status, "body": ["error": "refused \(status)"]])
        let id = try #require(try await harness.submit("d1", "Achats/p.pdf", content: "permanent").string("result", "documentId"))
        _ = try await harness.drain()
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "failed")
        #expect(document.int("result", "attempts") == 1)
        #expect(document.string("result", "lastError", "reason") == "inqom_rejected")
        #expect(document.int("result", "lastError", "httpStatus") == status)
        #expect(document.string("result", "lastError", "message")?.contains("refused \(status)") == true)
        #expect(try await harness.standIn.stats()["upload"] == 1)
        let failed = try await harness.events().first { $0["type"] as? String == "document.failed" }
        #expect((failed?["data"] as? [String: Any])?["reason"] as? String == "inqom_rejected")
    }
}
