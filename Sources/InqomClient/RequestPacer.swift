import Synchronization

/// Keeps requests to Inqom under a rate: each request takes the next free
/// slot. Inqom counts requests as they arrive, and a request arrives a little
/// sooner or later after its slot than the one before it (thread wake-ups,
/// the network): `rate` slots span `1 s + jitterMargin`, so that no second
/// at Inqom holds `rate + 1` of them unless their jitter exceeds it. A 429
/// halves the rate for a minute (twice: a quarter), so a throttled engine
/// backs off further than its setting.
/// Inqom counts per client id and user: each login has a pacer of its own
/// (`InqomClient.makePacer`). Engines that share a rate take their slots
/// from a `SlotLedger` they share, each waiting for its own.
public final class RequestPacer: Sendable {
    private struct State {
        var nextSlot: ContinuousClock.Instant
        var slowdown: Double = 1
        var slowUntil: ContinuousClock.Instant
    }

    /// What `rate` requests' arrivals may gain on their slots before Inqom
    /// sees one too many in a second; costs 3 % of the rate.
    static let jitterMargin = Duration.milliseconds(30)
    /// The same for engines sharing slots: each learns its slot over a round
    /// trip to the database, whose time varies with the load of both;
    /// costs 10 % of the rate.
    static let sharedJitterMargin = Duration.milliseconds(100)

    private let interval: Duration?
    private let state: Mutex<State>
    private let ledger: (any SlotLedger)?

    /// `requestsPerSecond` 0 means no limit.
    init(requestsPerSecond: Double, ledger: (any SlotLedger)? = nil) {
        let margin = ledger == nil ? Self.jitterMargin : Self.sharedJitterMargin
        interval = requestsPerSecond > 0 ? (.seconds(1) + margin) / requestsPerSecond : nil
        state = Mutex(State(nextSlot: .now, slowUntil: .now))
        self.ledger = ledger
    }

    /// Waits for this request's slot, on the transfer thread that will make
    /// it; false when `cancellation` is set meanwhile.
    func acquire(unless cancellation: CancellationFlag) -> Bool {
        guard let interval else { return true }
        let slot = nextSlot(interval)
        while !cancellation.isSet {
            let wait = slot - .now
            guard wait > .zero else { return true }
            cancellation.wait(for: wait)
        }
        return false
    }

    /// The next free slot, taken: from the ledger when there is one and it
    /// answers (else, as when there is none, from this pacer's own count).
    private func nextSlot(_ interval: Duration) -> ContinuousClock.Instant {
        let spacing = state.withLock { state -> Duration in
            if ContinuousClock.now >= state.slowUntil { state.slowdown = 1 }
            return interval * state.slowdown
        }
        if let ledger, let wait = try? ledger.takeSlot(spacing: spacing) {
            let slot = ContinuousClock.now + wait
            // What the next request would find, as far as this engine knows.
            state.withLock { $0.nextSlot = slot + spacing }
            return slot
        }
        return state.withLock { state in
            let slot = max(ContinuousClock.now, state.nextSlot)
            state.nextSlot = slot + spacing
            return slot
        }
    }

    /// The next request would wait for its slot: the rate, not Inqom, sets the pace now.
    var holdsBack: Bool {
        guard interval != nil else { return false }
        return state.withLock { $0.nextSlot > .now }
    }

    /// Inqom said 429: slower for the next minute.
    func throttled() {
        guard interval != nil else { return }
        state.withLock { state in
            state.slowdown = min(state.slowdown * 2, 16)
            state.slowUntil = .now + .seconds(60)
        }
    }
}


/// Slots shared by several engines' pacers of one login, so that together
/// they keep its rate. Blocking: called on the transfer thread that waits.
public protocol SlotLedger: Sendable {
    /// Takes the slot `spacing` after the last one taken (or now, if that
    /// one is past), and says how long from now until it comes.
    func takeSlot(spacing: Duration) throws -> Duration
}
