import Glibc
import Synchronization
import WorkerThreads

/// Wakes this engine when another commits something it should see (an
/// event, a document queued, a connector paused): a connection of its own
/// that `LISTEN`s on `channel`, on a thread of its own that waits on its
/// socket. Writers `NOTIFY` in their transactions; PostgreSQL delivers at
/// commit. After its connection broke, it connects again (0.1 s doubling to
/// 5 s between tries) and wakes the engine once, for what it may have missed.
public final class PostgresListener: Sendable {
    public static let channel = "pushdoc_changes"

    private let uri: String
    private let notified: @Sendable () -> Void
    /// Signalled to end the thread's wait at `stop`.
    private let wake = Wakeup()
    private let stopped = Atomic<Bool>(false)
    private let ended = Mutex<Bool>(false)

    /// Starts listening; `notified` runs on the listener's thread.
    public init(uri: String, notified: @escaping @Sendable () -> Void) {
        self.uri = uri
        self.notified = notified
        _ = startThread(named: "pushdoc.listen") { [self] in run() }
    }

    /// Ends the listening thread (it returns within one wait).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }

    private func run() {
        var delay = 0.1
        while !stopped.load(ordering: .relaxed) {
            do {
                let connection = try PostgresConnection(uri)
                try connection.execute("LISTEN \(Self.channel)")
                delay = 0.1
                // Changes made while no connection listened are looked at now.
                notified()
                try listen(on: connection)
            } catch {
                waitForStop(seconds: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Until the connection breaks (throws) or `stop`.
    private func listen(on connection: PostgresConnection) throws {
        var waits = [pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
        while !stopped.load(ordering: .relaxed) {
            let ready = poll(&waits, 2, -1)
            if ready < 0, errno == EINTR { continue }
            if waits[1].revents != 0 || ready < 0 { return }
            if try connection.takeNotifications() > 0 { notified() }
        }
    }

    private func waitForStop(seconds: Double) {
        var wait = pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&wait, 1, Int32(seconds * 1000))
    }
}
