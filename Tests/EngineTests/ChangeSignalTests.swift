import Testing

@testable import Engine

/// A wait measured to a deadline of the engine's clock: time that passed
/// before the wait began is counted, so that the sender's nap, reckoned
/// from the clock's reading before its claim, never outlasts a due retry.
@Suite(.timeLimit(.minutes(1)))
struct ChangeSignalTests {
    @Test func aWaitUntilADeadlineTheClockHasPassedReturnsAtOnce() async {
        let clock = ManualClock()
        let signal = ChangeSignal()
        let turn = clock.elapsed
        clock.advance(by: .seconds(1))
        await signal.wait(after: signal.generation, until: turn + .seconds(1), on: clock)
        #expect(clock.sleeping == 0)
    }

    @Test func aWaitEndsWhenTheClockReachesItsDeadlineAndNotBefore() async {
        let clock = ManualClock()
        let signal = ChangeSignal()
        let deadline = clock.elapsed + .seconds(2)
        let waiting = Task { await signal.wait(after: signal.generation, until: deadline, on: clock) }
        await clock.waitUntilSleeping(1)
        clock.advance(by: .seconds(1))
        #expect(clock.sleeping == 1)
        clock.advance(by: .seconds(1))
        await waiting.value
        #expect(clock.sleeping == 0)
    }

    @Test func aChangeEndsAnUntimedWait() async {
        let signal = ChangeSignal()
        let seen = signal.generation
        let waiting = Task { await signal.wait(after: seen) }
        signal.notify()
        await waiting.value
        #expect(signal.generation == seen + 1)
    }
}
