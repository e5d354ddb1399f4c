import Foundation
import Testing

@testable import Engine

struct CircuitBreakerTests {
    private let start = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func opensAfterFiveTransientFailuresInARowThenAllowsOneProbeAtATime() {
        var breaker = CircuitBreaker(probeInterval: .seconds(30))
        for failure in 1...4 {
            let counted = breaker.recordTransientFailure(at: start)
            #expect(counted, "failure \(failure) counts")
            #expect(!breaker.isOpen)
            #expect(breaker.uploadsAllowed(at: start, workers: 4, inFlight: 1) == 3)
        }
        let fifthCounted = breaker.recordTransientFailure(at: start)
        #expect(fifthCounted, "the failure that opens it still counts")
        #expect(breaker.isOpen)
        #expect(breaker.uploadsAllowed(at: start.addingTimeInterval(29), workers: 4, inFlight: 0) == 0)
        #expect(breaker.uploadsAllowed(at: start.addingTimeInterval(30), workers: 4, inFlight: 0) == 1)
        #expect(breaker.uploadsAllowed(at: start.addingTimeInterval(30), workers: 4, inFlight: 1) == 0, "one probe at a time")
    }

    @Test func aFailedProbeIsNotSpentAndPushesTheNextProbe() {
        var breaker = CircuitBreaker(probeInterval: .seconds(30))
        for _ in 1...5 { _ = breaker.recordTransientFailure(at: start) }
        let probe = start.addingTimeInterval(30)
        let probeCounted = breaker.recordTransientFailure(at: probe)
        #expect(!probeCounted)
        #expect(breaker.openUntil == probe.addingTimeInterval(30))
    }

    @Test func aSuccessClosesItAndStartsTheCountAgain() {
        var breaker = CircuitBreaker(probeInterval: .seconds(30))
        for _ in 1...5 { _ = breaker.recordTransientFailure(at: start) }
        breaker.recordSuccess()
        #expect(!breaker.isOpen)
        for _ in 1...4 { _ = breaker.recordTransientFailure(at: start) }
        #expect(!breaker.isOpen, "four failures after a success do not open it")
    }

    @Test func aSuccessBetweenFailuresKeepsItClosed() {
        var breaker = CircuitBreaker(probeInterval: .seconds(30))
        for _ in 1...4 { _ = breaker.recordTransientFailure(at: start) }
        breaker.recordSuccess()
        _ = breaker.recordTransientFailure(at: start)
        #expect(!breaker.isOpen)
        #expect(breaker.consecutiveFailures == 1)
    }

    @Test func theNextProbeMovesWithAWallClockJump() {
        var breaker = CircuitBreaker(probeInterval: .seconds(30))
        for _ in 1...5 { _ = breaker.recordTransientFailure(at: start) }
        breaker.followClockJump(by: -3600)
        #expect(breaker.openUntil == start.addingTimeInterval(30 - 3600))
    }
}
