/// When the next attempt comes: `delays[k]` is the wait before attempt
/// k + 2 (the first is at once), the last entry repeating; each wait is
/// jittered by ±20 %, and Inqom's `Retry-After` wins when longer (at most
/// six hours). Pure: the jitter is a number in -1...1 given by the caller.
public struct RetrySchedule: Sendable {
    public static let retryAfterCap: Duration = .seconds(6 * 3600)

    public let delays: [Duration]
    public let maxAttempts: Int

    public init(delays: [Duration], maxAttempts: Int) {
        precondition(!delays.isEmpty, "a schedule needs at least one delay")
        self.delays = delays
        self.maxAttempts = maxAttempts
    }

    /// The wait after `attemptsMade` failed attempts, or nil when the budget
    /// is spent.
    public func delay(afterAttempts attemptsMade: Int, jitter: Double, retryAfter: Duration?) -> Duration? {
        guard attemptsMade < maxAttempts else { return nil }
        let base = delays[min(attemptsMade - 1, delays.count - 1)]
        let jittered = base * (1 + 0.2 * max(-1, min(1, jitter)))
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, Self.retryAfterCap))
    }
}
