import Testing

@testable import Engine

struct RetryScheduleTests {
    let schedule = RetrySchedule(delays: [.seconds(60), .seconds(300), .seconds(1800), .seconds(7200), .seconds(21600)], maxAttempts: 6)

    @Test func followsTheScheduleAndStopsAfterTheLastAttempt() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: nil) == .seconds(60))
        #expect(schedule.delay(afterAttempts: 5, jitter: 0, retryAfter: nil) == .seconds(21600))
        #expect(schedule.delay(afterAttempts: 6, jitter: 0, retryAfter: nil) == nil)
        let long = RetrySchedule(delays: [.seconds(1), .seconds(2)], maxAttempts: 10)
        #expect(long.delay(afterAttempts: 7, jitter: 0, retryAfter: nil) == .seconds(2))  // the last entry repeats
    }

    @Test func jitterStaysWithinTwentyPercent() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 1, retryAfter: nil) == .seconds(72))
        #expect(schedule.delay(afterAttempts: 1, jitter: -1, retryAfter: nil) == .seconds(48))
        #expect(schedule.delay(afterAttempts: 1, jitter: 5, retryAfter: nil) == .seconds(72))
    }

    @Test func retryAfterWinsWhenLongerUpToSixHours() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(600)) == .seconds(600))
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(10)) == .seconds(60))
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(86_400)) == .seconds(21_600))
    }
}
