import Foundation
import Synchronization

@testable import Engine

/// An engine clock that moves only when a test says: `advance` moves
/// elapsed time (and the wall clock with it) and ends the sleeps it makes
/// due; `jump` and `set` move the wall clock alone, as an operator or NTP
/// would. `waitUntilSleeping` returns once the engine's loops sleep again:
/// their turn is over, with no real time spent waiting.
final class ManualClock: EngineClock {
    private struct Sleeper {
        let until: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var wall: Date
        var elapsed: Duration = .zero
        var sleepers: [UInt64: Sleeper] = [:]
        var nextKey: UInt64 = 0
        /// Keys of sleeps cancelled before they were registered.
        var cancelled: Set<UInt64> = []
        /// How many sleepers `settle` waits for, and who waits.
        var settleWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    init(_ text: String = "2026-12-04T10:00:00Z") {
        state = Mutex(State(wall: try! Date(text, strategy: .iso8601)))
    }

    var now: Date { state.withLock { $0.wall } }
    var elapsed: Duration { state.withLock { $0.elapsed } }
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Duration) async throws {
        let key = state.withLock { state in
            defer { state.nextKey += 1 }
            return state.nextKey
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> (result: Result<Void, any Error>?, settled: [CheckedContinuation<Void, Never>]) in
                    if state.cancelled.remove(key) != nil { return (.failure(CancellationError()), []) }
                    if deadline <= state.elapsed { return (.success(()), []) }
                    state.sleepers[key] = Sleeper(until: deadline, continuation: continuation)
                    return (nil, Self.takeSettled(&state))
                }
                for waiter in outcome.settled { waiter.resume() }
                if let result = outcome.result { continuation.resume(with: result) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let sleeper = state.sleepers.removeValue(forKey: key) else {
                    state.cancelled.insert(key)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves elapsed and wall time forward; the sleeps now due end.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.elapsed += duration
            state.wall += duration.seconds
            let due = state.sleepers.filter { $0.value.until <= state.elapsed }
            for key in due.keys { state.sleepers.removeValue(forKey: key) }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves the wall clock alone, by `seconds`.
    func jump(by seconds: TimeInterval) { state.withLock { $0.wall += seconds } }

    /// Sets the wall clock alone.
    func set(_ text: String) { state.withLock { $0.wall = try! Date(text, strategy: .iso8601) } }

    /// Advances by `duration` and waits until `sleepers` sleeps are pending
    /// again (the engine's loops have taken their turn and wait once more).
    func advance(by duration: Duration, thenWaitFor sleepers: Int) async {
        advance(by: duration)
        await waitUntilSleeping(sleepers)
    }

    /// Returns once `count` sleeps are pending.
    func waitUntilSleeping(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let reached = state.withLock { state -> Bool in
                guard state.sleepers.count < count else { return true }
                state.settleWaiters.append((count, continuation))
                return false
            }
            if reached { continuation.resume() }
        }
    }

    private static func takeSettled(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        let count = state.sleepers.count
        let ready = state.settleWaiters.filter { $0.count <= count }.map(\.continuation)
        state.settleWaiters.removeAll { $0.count <= count }
        return ready
    }
}
