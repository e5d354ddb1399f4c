import Glibc
import Synchronization
import WorkerThreads

/// Refused peers, told why and closed by one shared thread: no refused
/// peer costs a thread, however many come. Each gets its error line, then
/// the engine stops writing and reads what the peer sent until the peer
/// closes or a second passes — closing with unread input would reset the
/// connection and could destroy the error before the peer reads it.
final class Refusals: Sendable {
    private struct Pending {
        let fd: Int32
        let deadline: ContinuousClock.Instant
    }

    /// Past this many refusals being lingered on, new ones are closed at once.
    static let maxPending = 256
    static let linger = Duration.seconds(1)

    private let pending = Mutex<[Pending]>([])
    private let wakeup = Wakeup()
    private let started = Atomic<Bool>(false)

    func refuse(_ fd: Int32, _ error: ResponseError) {
        let line = OutgoingMessage.error(id: .null, error: error)
        _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        let kept = pending.withLock { pending -> Bool in
            guard pending.count < Self.maxPending else { return false }
            pending.append(Pending(fd: fd, deadline: .now + Self.linger))
            return true
        }
        guard kept else {
            close(fd)
            return
        }
        if !started.exchange(true, ordering: .relaxed), !startThread(named: "pd-refusals", { self.run() }) {
            started.store(false, ordering: .relaxed)
            for entry in pending.withLock({ $0.drain() }) { close(entry.fd) }
            return
        }
        wakeup.signal()
    }

    private func run() {
        var sink = [UInt8](repeating: 0, count: 4096)
        while true {
            let entries = pending.withLock { $0 }
            var watched = [pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0)]
            watched += entries.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&watched, nfds_t(watched.count), pollTimeout(until: entries.map(\.deadline).min()))
            if watched[0].revents != 0 { wakeup.clear() }
            let now = ContinuousClock.now
            var finished = Set<Int32>()
            for (entry, polled) in zip(entries, watched.dropFirst()) {
                var done = now >= entry.deadline
                if polled.revents != 0 {
                    let count = sink.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    done = done || count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR)
                }
                if done { finished.insert(entry.fd) }
            }
            guard !finished.isEmpty else { continue }
            pending.withLock { $0.removeAll { finished.contains($0.fd) } }
            for fd in finished { close(fd) }
        }
    }
}

extension Array {
    /// Empties the array, returning what it held.
    mutating func drain() -> [Element] {
        defer { removeAll() }
        return self
    }
}
