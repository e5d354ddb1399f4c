import Foundation

/// Time as the engine sees it: the wall clock (what is stored, planned and
/// shown: retry times, digest days, token expiry) and elapsed time (what
/// waits measure; it never jumps). Injected so that tests move through
/// retries, clock jumps and days without sleeping.
public protocol EngineClock: Sendable {
    var now: Date { get }
    /// Monotonic time since an origin of the clock's choosing.
    var elapsed: Duration { get }
    /// Returns once `elapsed` has reached `deadline` (at once if it has);
    /// throws when the task is cancelled first.
    func sleep(until deadline: Duration) async throws
}

extension EngineClock {
    /// Returns once `duration` of elapsed time has passed; throws when the
    /// task is cancelled first.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: elapsed + duration)
    }
}

/// The machine's clocks.
public struct SystemClock: EngineClock {
    private let origin = ContinuousClock.now

    public init() {}

    public var now: Date { Date() }
    public var elapsed: Duration { ContinuousClock.now - origin }
    public func sleep(until deadline: Duration) async throws {
        guard deadline > elapsed else { return try Task.checkCancellation() }
        try await Task.sleep(until: origin + deadline)
    }
}
