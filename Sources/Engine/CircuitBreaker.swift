import Foundation

/// When Inqom counts as down. After `threshold` transient failures in a row
/// (5xx, 429, timeouts, unreachable) the circuit opens: one probe at a time
/// every `probeInterval`, and the attempts of documents are not spent while
/// it is open. Any upload that Inqom accepts closes it. A permanent answer
/// (4xx) or a refused token says nothing of Inqom's health and never counts.
struct CircuitBreaker: Sendable {
    static let threshold = 5

    let probeInterval: Duration
    private(set) var consecutiveFailures = 0
    /// When the next probe may go; nil while the circuit is closed.
    private(set) var openUntil: Date?

    init(probeInterval: Duration) {
        self.probeInterval = probeInterval
    }

    var isOpen: Bool { openUntil != nil }

    /// Uploads that may start now: the free workers while closed; while
    /// open, one probe once its time has come and nothing is under way.
    func uploadsAllowed(at now: Date, workers: Int, inFlight: Int) -> Int {
        guard let openUntil else { return workers - inFlight }
        return now >= openUntil && inFlight == 0 ? 1 : 0
    }

    mutating func recordSuccess() {
        consecutiveFailures = 0
        openUntil = nil
    }

    /// A transient failure at `now`. Returns whether the attempt counts
    /// against the document: not when the circuit was already open (a probe).
    mutating func recordTransientFailure(at now: Date) -> Bool {
        let wasOpen = isOpen
        consecutiveFailures += 1
        if consecutiveFailures >= Self.threshold {
            openUntil = now.addingTimeInterval(probeInterval.seconds)
        }
        return !wasOpen
    }

    /// The wall clock jumped: the next probe keeps its distance in elapsed time.
    mutating func followClockJump(by seconds: TimeInterval) {
        openUntil = openUntil?.addingTimeInterval(seconds)
    }
}
