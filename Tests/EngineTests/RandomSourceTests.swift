import TestSupport
import Testing

@testable import Engine

/// The engine's chance comes from the generator it is given.
struct RandomSourceTests {
    @Test func theSameSeedGivesTheSameIdsAndJitter() {
        let first = RandomSource(SplitMix64(seed: 7))
        let second = RandomSource(SplitMix64(seed: 7))
        let ids = (0..<3).map { _ in first.hex(bytes: 8) }
        #expect(ids == (0..<3).map { _ in second.hex(bytes: 8) })
        #expect(Set(ids).count == 3)
        #expect(ids.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) })
        #expect(first.jitter() == second.jitter())
        #expect(RandomSource(SplitMix64(seed: 8)).hex(bytes: 8) != RandomSource(SplitMix64(seed: 7)).hex(bytes: 8))
    }

    @Test func jitterSpansMinusOneToOne() {
        let random = RandomSource(SplitMix64(seed: 1))
        let draws = (0..<10_000).map { _ in random.jitter() }
        #expect(draws.allSatisfy { (-1..<1).contains($0) })
        #expect(draws.min()! < -0.99 && draws.max()! > 0.99)
        struct Zero: RandomNumberGenerator, Sendable { mutating func next() -> UInt64 { 0 } }
        #expect(RandomSource(Zero()).jitter() == 0)
    }
}
