import Glibc
import Synchronization

/// Writes whole messages to a file descriptor without ever blocking the
/// thread that writes: a send that would block leaves the rest queued, and
/// the connection's own thread sends it when the peer reads again
/// (`sendQueued`, on `POLLOUT`). So a client that stops reading holds only
/// its own bytes, never a thread that other clients need.
///
/// While the connection's reader holds the channel (one chunk of input),
/// answers wait, then leave together: a pipelined burst costs one send per
/// chunk.
public final class OutputChannel: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        /// Bytes of `buffer` already sent.
        var sent = 0
        var held = false
        /// The last send would have blocked: only `sendQueued` sends again.
        var awaitingRoom = false
        var broken = false
        /// Async callers waiting for the backlog to fall under their bound.
        var roomWaiters: [(bound: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var backlog: Int { buffer.count - sent }
    }

    private let fd: Int32
    let isSocket: Bool
    private let state = Mutex(State())
    private let budget = Mutex<BufferBudget?>(nil)
    /// Told when a send would block, so that the owner watches for `POLLOUT`.
    private let onBlocked: Mutex<(@Sendable () -> Void)?> = Mutex(nil)
    /// Signalled each time the backlog empties, for `flush`.
    private let emptied = Mutex<[CheckedContinuation<Void, Never>]>([])

    /// `isSocket` selects `send(MSG_NOSIGNAL | MSG_DONTWAIT)`: a vanished peer is
    /// an error code, never a signal. A pipe is made non-blocking; a terminal
    /// or a file is written as it is.
    public init(fd: Int32, isSocket: Bool) {
        self.fd = fd
        self.isSocket = isSocket
        var info = stat()
        if !isSocket, fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFIFO {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    /// Counts what waits here against the server's budget.
    func attach(budget: BufferBudget) {
        self.budget.withLock { $0 = budget }
    }

    /// The connection that owns this channel watches for `POLLOUT` when told.
    func attach(onBlocked handler: @escaping @Sendable () -> Void) {
        onBlocked.withLock { $0 = handler }
    }

    var descriptor: Int32 { fd }

    /// Bytes waiting to be written: the reader slows down when it grows.
    public var backlog: Int { state.withLock { $0.backlog } }

    /// Whether a send would block: the owner then watches for `POLLOUT`.
    var isAwaitingRoom: Bool { state.withLock { $0.awaitingRoom && !$0.broken } }

    /// Whether the peer stopped reading (EPIPE, reset): nothing more is sent.
    public var isBroken: Bool { state.withLock { $0.broken } }

    public func write(_ bytes: [UInt8]) {
        let blocked = state.withLock { state -> Bool in
            guard !state.broken else { return false }
            state.buffer.append(contentsOf: bytes)
            budget.withLock { $0 }?.add(bytes.count)
            guard !state.held, !state.awaitingRoom else { return false }
            return sendLocked(&state)
        }
        if blocked { onBlocked.withLock { $0 }?() }
    }

    /// Holds writes back while the reader handles one chunk of input.
    public func hold() {
        state.withLock { $0.held = true }
    }

    /// Ends a hold, sending what it kept back.
    public func release() {
        let blocked = state.withLock { state -> Bool in
            state.held = false
            guard !state.awaitingRoom, state.backlog > 0 else { return false }
            return sendLocked(&state)
        }
        if blocked { onBlocked.withLock { $0 }?() }
    }

    /// The peer can read again (`POLLOUT`): sends what is queued.
    func sendQueued() {
        state.withLock { state in
            state.awaitingRoom = false
            _ = sendLocked(&state)
        }
    }

    /// Marks the channel broken (the peer is gone): what is queued is dropped.
    func markBroken() {
        state.withLock { state in
            guard !state.broken else { return }
            state.broken = true
            settle(&state)
        }
    }

    /// Waits until fewer than `bound` bytes are queued, or the peer is gone.
    public func waitForRoom(below bound: Int) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                guard !state.broken, state.backlog >= bound else { return true }
                state.roomWaiters.append((bound, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Returns once everything queued has been written or the peer is gone;
    /// the owner's thread keeps sending meanwhile.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                guard state.backlog > 0, !state.broken else { return true }
                emptied.withLock { $0.append(continuation) }
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Sends without blocking while the peer takes bytes; says whether it
    /// stopped because a send would block. Called with the state locked:
    /// every send is non-blocking, so the lock is held only for copies.
    private func sendLocked(_ state: inout State) -> Bool {
        guard !state.broken else { return false }
        var wouldBlock = false
        state.buffer.withUnsafeBytes { raw in
            while state.sent < raw.count {
                let pointer = raw.baseAddress! + state.sent
                let count = raw.count - state.sent
                let written =
                    isSocket
                    ? send(fd, pointer, count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    : Glibc.write(fd, pointer, count)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        wouldBlock = true
                    } else {
                        state.broken = true
                    }
                    return
                }
                state.sent += written
            }
        }
        state.awaitingRoom = wouldBlock
        settle(&state)
        return wouldBlock
    }

    /// After a send: gives back what was sent (and memory held for a large
    /// backlog), and wakes whoever waits for room or for an empty channel.
    private func settle(_ state: inout State) {
        if state.broken {
            budget.withLock { $0 }?.remove(state.backlog)
            state.sent = state.buffer.count
        }
        if state.sent > 0, state.sent == state.buffer.count {
            budget.withLock { $0 }?.remove(state.sent)
            state.buffer.removeAll(keepingCapacity: state.buffer.capacity <= 1 << 16)
            state.sent = 0
            for waiter in emptied.withLock({ $0.drain() }) { waiter.resume() }
        }
        let backlog = state.backlog
        let broken = state.broken
        let (ready, waiting) = state.roomWaiters.split { broken || backlog < $0.bound }
        state.roomWaiters = waiting
        for waiter in ready { waiter.continuation.resume() }
    }
}

/// What all connections together hold in unfinished lines and unread
/// answers: past the limit, connections stop reading until it falls.
public final class BufferBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)
    private let onFreed = Mutex<(@Sendable () -> Void)?>(nil)

    public init(limit: Int) {
        self.limit = limit
    }

    public var isExhausted: Bool { used.load(ordering: .relaxed) >= limit }
    public var usedBytes: Int { used.load(ordering: .relaxed) }

    func add(_ bytes: Int) { used.add(bytes, ordering: .relaxed) }

    func remove(_ bytes: Int) {
        guard bytes > 0 else { return }
        let after = used.subtract(bytes, ordering: .relaxed).newValue
        // Crossing back under the limit wakes the connections that paused for it.
        if after < limit, after + bytes >= limit { onFreed.withLock { $0 }?() }
    }

    /// Runs `wake` whenever the budget falls back under its limit.
    func whenFreed(_ wake: @escaping @Sendable () -> Void) {
        onFreed.withLock { $0 = wake }
    }
}

extension Array {
    /// The elements that satisfy `isReady`, and the others, in order.
    fileprivate func split(_ isReady: (Element) -> Bool) -> ([Element], [Element]) {
        var ready: [Element] = [], rest: [Element] = []
        for element in self {
            if isReady(element) { ready.append(element) } else { rest.append(element) }
        }
        return (ready, rest)
    }

}
