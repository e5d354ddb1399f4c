import Foundation
import InqomClient
import Logging
import Store
import Synchronization

/// Sends due documents to Inqom, `--workers` at a time, and records each
/// outcome with its event in one transaction; `CircuitBreaker` says when
/// Inqom counts as down.
final class Sender: Sendable {
    private struct State {
        var inFlight = 0
        /// Uploads under way per connector, each at most `--connector-workers`.
        var inFlightBy: [ConnectorName: Int] = [:]
        var breaker: CircuitBreaker
        /// A probe closed the circuit: the retries planned during the outage are due now.
        var inqomCameBack = false
        var stopping = false
    }

    private let state: Mutex<State>
    private let loop = Mutex<Task<Void, Never>?>(nil)
    /// A worker ended: while every worker is busy, the loop waits for this
    /// alone (workers claim their next documents themselves), not for each
    /// document's change.
    private let workerEnded = ChangeSignal()
    /// What the sender works with, and nothing else of the engine.
    struct Parts: Sendable {
        let store: any SendingStore
        let sessions: InqomSessions
        let spool: Spool
        /// Where the uploads read documents' bytes.
        let bytes: any DocumentBytes
        let blocking: BlockingWork
        let clock: any EngineClock
        let random: RandomSource
        let configuration: EngineConfiguration
        let logger: Logger
        /// Signalled after each commit; waited on for new documents.
        let changes: ChangeSignal
        /// Makes the connector's session ready (its stored credentials opened) before its first upload.
        let prepare: @Sendable (ConnectorName) async throws -> Void
        /// Inqom refused a connector's stored credentials: that connector is disconnected.
        let tokenRefused: @Sendable (ConnectorName, String) async throws -> Void
    }

    private let parts: Parts
    private var store: any SendingStore { parts.store }

    init(_ parts: Parts) {
        self.parts = parts
        self.state = Mutex(State(breaker: CircuitBreaker(probeInterval: parts.configuration.circuitProbeInterval)))
    }

    var isCircuitOpen: Bool { state.withLock { $0.breaker.isOpen } }

    func start() {
        loop.withLock { $0 = Task { await self.run() } }
    }

    /// Stops claiming work; uploads under way may finish until `deadline`,
    /// then are cancelled (they go back to the queue: nothing is lost).
    func stop(by deadline: ContinuousClock.Instant) async {
        state.withLock { $0.stopping = true }
        parts.changes.notify()
        workerEnded.notify()
        while true {
            let seen = workerEnded.generation
            guard state.withLock({ $0.inFlight > 0 }), ContinuousClock.now < deadline else { break }
            // The shutdown grace is the machine's time, whatever the engine's clock.
            await workerEnded.wait(after: seen, timeout: deadline - .now, on: SystemClock())
        }
        let task = loop.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    private func run() async {
        let clock = parts.clock
        var clockCheck = (wall: clock.now, elapsed: clock.elapsed)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled, !state.withLock({ $0.stopping }) {
                let jump = clock.now.timeIntervalSince(clockCheck.wall) - (clock.elapsed - clockCheck.elapsed).seconds
                // What the wall clock would say now without the jump: attempts planned later are in its new time.
                let unjumped = clock.now.addingTimeInterval(-jump)
                if abs(jump) > Self.clockJumpTolerance,
                    await parts.logger.failureLogged("following a wall clock jump", {
                        try await followClockJump(by: jump, plannedBefore: unjumped)
                    }) == nil
                {
                    // The store cannot write now (disk full): the jump is followed at a later turn.
                    try? await clock.sleep(for: .milliseconds(200))
                    continue
                }
                // Elapsed time read first: a clock that moves between the two readings makes the nap shorter, not longer.
                let elapsed = clock.elapsed
                clockCheck = (clock.now, elapsed)
                if state.withLock({ state in defer { state.inqomCameBack = false }; return state.inqomCameBack }) {
                    // Their delays kept a failing Inqom from being hammered; Inqom has answered again.
                    _ = await parts.logger.failureLogged("retrying now what waited for Inqom") {
                        try await store.retryNow(at: clock.now)
                    }
                }
                let seen = parts.changes.generation
                let seenEnded = workerEnded.generation
                let due = await parts.logger.failureLogged("claiming due documents") { try await claim() } ?? []
                for document in due {
                    group.addTask { await self.send(document) }
                }
                if due.isEmpty {
                    if freeSlots(at: clock.now) == 0 && !isCircuitOpen {
                        // Every worker is busy and will end: no timer, so that a manual clock's
                        // sleepers are the idle engine's alone.
                        await workerEnded.wait(after: seenEnded)
                    } else {
                        await parts.changes.wait(after: seen, until: await napEnd(after: clockCheck), on: clock)
                    }
                }
            }
        }
    }

    /// Until when nothing can be due: the next retry, a second at most; a
    /// second when the connector is not active (its change wakes the loop).
    private func napEnd(after turn: (wall: Date, elapsed: Duration)) async -> Duration {
        let next = await parts.logger.failureLogged("reading the next due time") { try await store.nextPlannedAttempt() } ?? nil
        return Self.napEnd(next: next, turn: turn, elapsed: parts.clock.elapsed)
    }

    /// The nap's end for the next planned attempt `next`, counted from the
    /// turn's reading of the clock, taken before its claim: time that passed
    /// since then shortens the nap, never goes unseen. An attempt due at the
    /// turn and not claimed (its connector's places are taken) gets a pause
    /// from `elapsed`, so that the loop does not spin; a worker's end wakes it.
    static func napEnd(next: Date?, turn: (wall: Date, elapsed: Duration), elapsed: Duration) -> Duration {
        guard let next else { return turn.elapsed + .seconds(1) }
        let wait = next.timeIntervalSince(turn.wall)
        guard wait > 0 else { return elapsed + duePause }
        return turn.elapsed + .seconds(min(1, wait))
    }

    static let duePause = Duration.milliseconds(5)

    /// How far the wall clock may drift from elapsed time between two turns
    /// of the loop (a second apart at most while a worker is free) before it
    /// counts as a jump.
    static let clockJumpTolerance: TimeInterval = 2

    /// The wall clock jumped (set by hand, corrected by NTP, a VM resumed):
    /// every planned attempt moves with it, so that waits are kept in
    /// elapsed time. A clock set back an hour would otherwise hold retries
    /// an hour; set forward, it would spend them all at once. With engines
    /// sharing a database the plans stay: the other engines' clocks keep them.
    private func followClockJump(by jump: TimeInterval, plannedBefore cutoff: Date) async throws {
        let moved = try await store.movePlannedAttempts(by: jump, plannedBefore: cutoff)
        state.withLock { $0.breaker.followClockJump(by: jump) }
        parts.logger.warning(
            moved
                ? "the wall clock jumped: planned attempts move with it"
                : "the wall clock jumped: planned attempts stay, as on the other engines' clocks (keep every engine's clock synchronized)",
            metadata: ["seconds": "\(Int(jump))"])
    }

    /// Marks due documents `sending`, as many as free workers (one probe
    /// while the circuit is open), when the connector is active.
    private func claim() async throws -> [Outgoing] {
        let now = parts.clock.now
        let slots = freeSlots(at: now)
        guard slots > 0 else { return [] }
        let reserved = Reservations()
        do {
            let claimed = try await store.claimDue(limit: slots, now: now) { connector in
                self.reserve(connector, finishing: nil, into: reserved)
            }
            state.withLock { $0.inFlight += claimed.count }
            return claimed
        } catch {
            for connector in reserved.taken { release(connector) }
            throw error
        }
    }

    /// Takes a place for an upload of `connector` if it has one free under
    /// `--connector-workers`, counting `finishing` (the worker's document
    /// just recorded) as ended.
    private func reserve(_ connector: ConnectorName, finishing: ConnectorName?, into reserved: Reservations) -> Bool {
        let taken = state.withLock { state in
            let busy = (state.inFlightBy[connector] ?? 0) - (connector == finishing ? 1 : 0)
            guard busy < parts.configuration.connectorWorkers else { return false }
            state.inFlightBy[connector, default: 0] += 1
            return true
        }
        if taken { reserved.note(connector) }
        return taken
    }

    /// The places a claim took, given back if its transaction fails.
    private final class Reservations: Sendable {
        private let names = Mutex<[ConnectorName]>([])
        func note(_ connector: ConnectorName) { names.withLock { $0.append(connector) } }
        var taken: [ConnectorName] { names.withLock { $0 } }
    }

    private func release(_ connector: ConnectorName) {
        state.withLock { state in
            let left = (state.inFlightBy[connector] ?? 1) - 1
            state.inFlightBy[connector] = left > 0 ? left : nil
        }
    }

    private func freeSlots(at now: Date) -> Int {
        state.withLock { $0.breaker.uploadsAllowed(at: now, workers: parts.configuration.workers, inFlight: $0.inFlight) }
    }

    /// A worker: sends the document it was given, then each it claims when
    /// recording the last outcome, until none is due, the circuit opens or
    /// the sender stops. It runs in turns on a transfer thread: upload, then
    /// the outcome's commit with the next claim, with no hand-off per
    /// document. A turn ends to renew the token, to let other calls to Inqom
    /// have the thread, or when the store cannot write (the outcome is then
    /// tried again here, on the engine's clock, with no thread held).
    private func send(_ first: Outgoing) async {
        var next: Outgoing? = first
        var renewedToken = false
        while let document = next {
            let session = parts.sessions.session(for: document.connector)
            let token: AccessToken
            do {
                try await parts.prepare(document.connector)
                token = try await session.validToken()
            } catch {
                next = await recordAfterTokenFailure(error, for: document)
                renewedToken = false
                continue
            }
            let renewable = !renewedToken
            let end = await parts.sessions.client.onTransferThread(pacedBy: session.pacer) { calls in
                self.turn(from: document, token: token, renewable: renewable, calls: calls)
            }
            switch end {
            case .done:
                next = nil
            case .handBack(let document):
                next = document
                renewedToken = false
            case .tokenRefused(let document):
                // Sent again at once with a new token, once; a second 401 counts as a failed attempt.
                await session.discard(token)
                next = document
                renewedToken = true
            case .unrecorded(let pending):
                next = await recordWhenTheStoreCanWrite(pending)
                renewedToken = false
            }
        }
        state.withLock { $0.inFlight -= 1 }
        workerEnded.notify()
        parts.changes.notify()
    }

    /// How a worker's turn on a transfer thread ended.
    private enum TurnEnd: Sendable {
        /// Nothing more for this worker.
        case done
        /// This document, claimed and not sent yet, goes on in the next turn.
        case handBack(Outgoing)
        /// Inqom refused the token (401) for this document, not sent.
        case tokenRefused(Outgoing)
        /// Inqom answered, and the store could not write it (a full disk).
        case unrecorded(PendingRecord)
    }

    /// An outcome decided and not yet stored.
    private struct PendingRecord: Sendable {
        let change: DocumentChange
        let document: Outgoing
        let at: Date
        let claimNext: Bool
    }

    /// What became of recording an outcome.
    private enum Recording: Sendable {
        case recorded(next: Outgoing?)
        case storeCannotWrite(PendingRecord)
    }

    /// Documents one after another on this transfer thread, while the token
    /// stays valid and no other call waits for a thread.
    private func turn(from first: Outgoing, token: AccessToken, renewable: Bool, calls: InqomCalls) -> TurnEnd {
        var document = first
        var renewable = renewable
        while true {
            guard let outcome = upload(document, token: token, renewable: renewable, calls: calls) else {
                return .tokenRefused(document)
            }
            // Held back by the rate limit, the worker takes its slot before it chooses its
            // next document: the one chosen is then whose turn it is at that slot, and a
            // newcomer of another dossier does not wait behind documents held for their slots.
            // Its place under --connector-workers stays the worker's meanwhile.
            let keptPlace = calls.waitsForSlot && reserve(document.connector, finishing: document.connector, into: Reservations())
            let next: Outgoing
            switch recordBlocking(outcome, for: document, cancelled: calls.isCancelled, claimingNext: !keptPlace) {
            case .storeCannotWrite(let pending):
                if keptPlace { release(document.connector) }
                return .unrecorded(pending)
            case .recorded(let claimed?): next = claimed
            case .recorded(nil):
                guard keptPlace, let claimed = claimAtSlot(calls, place: document.connector) else { return .done }
                next = claimed
            }
            // Another connector's document needs that connector's token.
            if next.connector != document.connector || !InqomSession.isUsable(token, at: parts.clock.now) || calls.othersWaiting {
                return .handBack(next)
            }
            document = next
            renewable = true
        }
    }

    enum Outcome {
        case transmitted(UploadReceipt)
        case failed(reason: DocumentReason, message: String, httpStatus: Int?)
        case transient(message: String, httpStatus: Int?, retryAfter: Duration?)
        /// Not Inqom's answer about this document: back to the queue, no attempt spent.
        case requeue(why: String, cause: RequeueCause)
    }

    /// Why a document goes back to the queue without an attempt spent.
    enum RequeueCause {
        /// The engine stops: due at once, for another engine or the next start.
        case shutdown
        /// Inqom refused the stored credentials: the connector is now disconnected.
        case refusedToken
        /// Something of this machine's failed (its disk, its database): due
        /// again after `storageRetryInterval`, so that no worker loops on it.
        case notNow
    }

    /// Must never happen: the spool keeps a document's bytes until Inqom has them.
    private static let fileMissing = Outcome.failed(
        reason: .fileMissing, message: "the document's bytes are no longer in the spool", httpStatus: nil)

    /// Sends one document; nil when Inqom refused the token (401) and
    /// `renewable` says a new one may be tried.
    private func upload(_ document: Outgoing, token: AccessToken, renewable: Bool, calls: InqomCalls) -> Outcome? {
        guard let folder = document.inqomFolderID else {
            return .failed(reason: .dossierNotMapped, message: "the dossier has no Inqom accounting folder (step 3)", httpStatus: nil)
        }
        let source: UploadSource
        do {
            guard let found = try parts.bytes.file(for: document) else { return Self.fileMissing }
            source = found
        } catch {
            return .requeue(why: "the document's bytes cannot be read now: \(error)", cause: .notNow)
        }
        defer { if source.isCopy { unlink(source.path) } }
        let file = UploadFile(path: source.path, fileName: document.fileName)
        let started = ContinuousClock.now
        do throws(InqomError) {
            let receipt =
                if let typeScan = document.documentType.typeScan {
                    try calls.uploadDocument(token: token, folderID: folder, file: file, typeScan: typeScan, sourceID: document.id)
                } else {
                    try calls.uploadExpenseBill(token: token, folderID: folder, file: file, reference: document.id)
                }
            parts.logger.info(
                "document transmitted",
                metadata: ["documentId": "\(document.id)", "dossierId": "\(document.dossierID)",
                           "elapsed": "\(ContinuousClock.now - started)", "duplicate": "\(receipt.duplicate)"])
            return .transmitted(receipt)
        } catch .tokenExpired where renewable {
            return nil
        } catch {
            parts.logger.warning("upload failed", metadata: ["documentId": "\(document.id)", "error": "\(error)"])
            return Self.outcome(of: error)
        }
    }

    /// What an error of Inqom's (or of getting a token) means for the document.
    private static func outcome(of error: any Error) -> Outcome {
        guard let error = error as? InqomError else { return .requeue(why: "\(error)", cause: .notNow) }
        switch error {
        case .permanent(let status, let body):
            return .failed(
                reason: status == 404 ? .inqomFolderNotFound : .inqomRejected,
                message: "Inqom answered \(status): \(body)", httpStatus: status)
        case .transient(let status, let retryAfter, _):
            return .transient(message: error.description, httpStatus: status, retryAfter: retryAfter)
        case .unreachable, .tokenExpired:
            return .transient(message: error.description, httpStatus: nil, retryAfter: nil)
        case .invalidGrant, .invalidClient:
            return .requeue(why: error.description, cause: .refusedToken)
        case .cancelled:
            return .requeue(why: "shutdown", cause: .shutdown)
        case .fileUnreadable:
            return fileMissing
        }
    }

    /// No token to send `document` with: what that means is recorded on a
    /// blocking thread, after turning the connector `disconnected` when
    /// Inqom refused the stored credentials.
    private func recordAfterTokenFailure(_ error: any Error, for document: Outgoing) async -> Outgoing? {
        let outcome = Self.outcome(of: error)
        parts.logger.warning("no token to send with", metadata: ["documentId": "\(document.id)", "error": "\(error)"])
        if case .requeue(let why, .refusedToken) = outcome {
            do {
                try await parts.tokenRefused(document.connector, why)
            } catch {
                parts.logger.error("cannot record the refused credentials", metadata: ["error": "\(error)"])
            }
        }
        let cancelled = Task.isCancelled
        switch await parts.blocking.run({ self.recordBlocking(outcome, for: document, cancelled: cancelled, claimingNext: true) }) {
        case .recorded(let next): return next
        case .storeCannotWrite(let pending): return await recordWhenTheStoreCanWrite(pending)
        }
    }

    /// A full or read-only disk: what Inqom answered must not be lost, nor
    /// the document wait for a restart. Tried again until the store can
    /// write, or the sender stops (the document, left `sending`, then goes
    /// again at the next start).
    private func recordWhenTheStoreCanWrite(_ pending: PendingRecord) async -> Outgoing? {
        parts.logger.warning("outcome kept until the store can write", metadata: ["documentId": "\(pending.document.id)"])
        while !state.withLock({ $0.stopping }) {
            guard (try? await parts.clock.sleep(for: Self.storageRetryInterval)) != nil else { break }
            if case .recorded(let next) = await parts.blocking.run({ self.store(pending) }) { return next }
        }
        parts.logger.error("outcome not recorded: the store cannot write", metadata: ["documentId": "\(pending.document.id)"])
        return nil
    }

    /// Records an outcome with its event and, `claimingNext`, in the same
    /// transaction claims the next due document for this worker if it may go
    /// on; then has a transmitted document's spool file released. Blocking: on
    /// a transfer thread or a blocking one.
    private func recordBlocking(_ outcome: Outcome, for document: Outgoing, cancelled: Bool, claimingNext: Bool) -> Recording {
        let now = parts.clock.now
        let change = change(recording: outcome, for: document, now: now)
        let claimNext = claimingNext && mayGoOn(cancelled: cancelled)
        return store(PendingRecord(change: change, document: document, at: now, claimNext: claimNext))
    }

    /// A worker may take more work: not stopping, not cancelled, circuit closed.
    private func mayGoOn(cancelled: Bool) -> Bool {
        !cancelled && state.withLock { !$0.stopping && !$0.breaker.isOpen }
    }

    /// Waits for the worker's next slot, then claims the document due then,
    /// in the connector's `place` the worker kept or in another's; the kept
    /// place is given up. Blocking: on the transfer thread.
    private func claimAtSlot(_ calls: InqomCalls, place: ConnectorName) -> Outgoing? {
        defer { release(place) }
        guard mayGoOn(cancelled: calls.isCancelled), calls.takeSlot(), mayGoOn(cancelled: calls.isCancelled) else { return nil }
        let reserved = Reservations()
        do {
            return try store.claimNextBlocking(now: parts.clock.now) { self.reserve($0, finishing: place, into: reserved) }
        } catch {
            for connector in reserved.taken { release(connector) }
            parts.logger.error("cannot claim the next document", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// One try at storing an outcome; then a transmitted document's spool
    /// file is released. Blocking.
    private func store(_ pending: PendingRecord) -> Recording {
        defer { parts.changes.notify() }
        let finishing = pending.document.connector
        let reserved = Reservations()
        let admitNext: @Sendable (ConnectorName) -> Bool = { connector in
            self.reserve(connector, finishing: finishing, into: reserved)
        }
        let admit = pending.claimNext ? admitNext : nil
        do {
            let next = try store.recordBlocking(pending.change, of: pending.document, at: pending.at, claimNext: admit)
            release(finishing)
            if case .transmitted = pending.change, let spoolName = pending.document.spoolName {
                // Only now that the store knows Inqom has the bytes (a resend after a restart
                // must find them), and on a file thread: the worker's next upload waits for its
                // commit already, not for this too.
                let spool = parts.spool
                parts.blocking.detach { spool.release(spoolName) }
            }
            return .recorded(next: next)
        } catch EngineError.storageUnavailable {
            for connector in reserved.taken { release(connector) }
            return .storeCannotWrite(pending)
        } catch {
            for connector in reserved.taken { release(connector) }
            release(finishing)
            parts.logger.error("cannot record an outcome", metadata: ["documentId": "\(pending.document.id)", "error": "\(error)"])
            return .recorded(next: nil)
        }
    }

    /// What the outcome makes of the document, as the retry schedule and the
    /// circuit breaker say.
    private func change(recording outcome: Outcome, for document: Outgoing, now: Date) -> DocumentChange {
        switch outcome {
        case .transmitted(let receipt):
            state.withLock { state in
                if state.breaker.isOpen { state.inqomCameBack = true }
                state.breaker.recordSuccess()
            }
            let (year, month) = parts.configuration.calendar.yearAndMonth(of: now)
            let archivePath = document.archiveTemplate.map {
                (try? PathTemplate($0))?.expanded(year: year, month: month) ?? $0
            }.map { $0 + "/" + document.fileName }
            return .transmitted(inqomDocumentID: receipt.inqomDocumentID, duplicate: receipt.duplicate, archivePath: archivePath)
        case .failed(let reason, let message, let status):
            return .failed(reason: reason, message: message, httpStatus: status, attemptsSpent: 1)
        case .transient(let message, let status, let retryAfter):
            let spend = state.withLock { $0.breaker.recordTransientFailure(at: now) }
            let attempts = document.attempts + 1
            let schedule = RetrySchedule(delays: parts.configuration.retryDelays, maxAttempts: parts.configuration.maxAttempts)
            if !spend {
                // The circuit was open: this was a probe, Inqom is still down.
                return .requeued(at: state.withLock { $0.breaker.openUntil } ?? now, detail: "circuit open: \(message)")
            } else if let delay = schedule.delay(afterAttempts: attempts, jitter: parts.random.jitter(), retryAfter: retryAfter) {
                return .retrying(attempts: attempts, next: now.addingTimeInterval(delay.seconds), message: message, httpStatus: status)
            } else {
                return .failed(reason: .inqomUnavailable, message: "no attempt succeeded: \(message)", httpStatus: status, attemptsSpent: 1)
            }
        case .requeue(let why, let cause):
            return .requeued(at: cause == .notNow ? now.addingTimeInterval(Self.storageRetryInterval.seconds) : now, detail: why)
        }
    }

    static let storageRetryInterval = Duration.seconds(1)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
