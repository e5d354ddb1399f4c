import Foundation
import TestSupport
import Testing

/// Rates measured at the Inqom stand-in, in arrival times: they run with
/// the chaos and load suites, alone, so that the measure is of the engine's
/// pacing and not of two cores shared by every other suite at once.
struct PacingTests {
    /// `--inqom-max-rps` holds for the deployment: two engines sending one
    /// connector's documents never make it twice the rate at Inqom.
    @Test func theRateLimitHoldsAcrossEngines() async throws {
        let deployment = try await ClusterTests.Deployment()
        let rate = ["--inqom-max-rps", "5"]
        let first = try deployment.engine("engine-a", rate)
        try await deployment.configure(through: first)
        let second = try deployment.engine("engine-b", rate)
        _ = try await first.stdio.call("connector.pause")
        let names = (0..<20).map { "doc-\($0)" }
        for (index, name) in names.enumerated() { _ = try await ClusterTests.submit(index % 2 == 0 ? first : second, name) }
        _ = try await second.stdio.call("connector.resume")
        let drained = try await second.stdio.call("push.drain", #"{"timeoutMs":30000}"#, timeout: .seconds(40))
        #expect(drained.int("result", "documents", "transmitted") == names.count)
        let stats = try await deployment.standIn.stats()
        #expect((stats["busiestSecond"] ?? 0) <= 5, "\(stats)")
        #expect((stats["upload"] ?? 0) == names.count, "\(stats)")
    }
}
