import Foundation
import TestSupport
import Testing

@testable import Engine

/// Engines sharing one PostgreSQL database share each connector's request
/// slots: together they keep `--inqom-max-rps`.
struct SharedRequestSlotsTests {
    @Test func twoEnginesTakeSlotsOneSpacingApart() async throws {
        let storage = try #require(try await StoreKind.postgres.fresh("request-slots").storage as? PostgresAccess)
        let engines = [SharedRequestSlots(storage: storage, connector: .default), SharedRequestSlots(storage: storage, connector: .default)]
        let spacing = Duration.milliseconds(100)
        // Each slot lies between the call's start and its end, plus the wait it answered.
        let slots = try await onThread {
            try (0..<10).map { index -> ClosedRange<ContinuousClock.Instant> in
                let asked = ContinuousClock.now
                let wait = try engines[index % 2].takeSlot(spacing: spacing)
                return (asked + wait)...(ContinuousClock.now + wait)
            }
        }
        for (earlier, later) in zip(slots, slots.dropFirst()) {
            let gaps = (later.lowerBound - earlier.upperBound)...(later.upperBound - earlier.lowerBound)
            #expect(gaps.contains(spacing), "slots \(gaps) apart")
        }
        let other = SharedRequestSlots(storage: storage, connector: ConnectorName("firm-b")!)
        #expect(try await onThread { try other.takeSlot(spacing: spacing) } == .zero, "another connector's slots are its own")
    }
}
