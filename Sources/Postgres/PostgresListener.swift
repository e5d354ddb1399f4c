import Glibc
import Synchronization
import WorkerThreads

/// Wakes this engine when another commits something it should see (an
/// event, a document queued, a connector paused): a connection of its own
/// that `LISTEN`s on `channel`, on a thread of its own that waits on its
/// socket. Writers `NOTIFY` in their transactions; PostgreSQL delivers at
/// commit. After its connection broke, it connects again (0.1 s doubling to
/// 5 s between tries) and wakes the engine once, for what it may have missed.
///
/// Its session also holds the engine's presence: an advisory lock named
/// after its node, which PostgreSQL releases the moment the engine's
/// process dies (its socket closes). Other engines read from it that this
/// one's leases belong to a live engine (see `presenceHeld`).
public final class PostgresListener: Sendable {
    public static let channel = "pushdoc_changes"
    /// While the presence lock is held by another session (this engine's
    /// own, broken but not yet ended by the server), how often it is asked for again.
    private static let presenceRetryMilliseconds: Int32 = 1000

    private let uri: String
    private let node: String
    private let notified: @Sendable () -> Void
    /// Signalled to end the thread's wait at `stop`.
    private let wake = Wakeup()
    private let stopped = Atomic<Bool>(false)

    /// Connects, takes `node`'s presence and starts listening; `notified`
    /// runs on the listener's thread. Blocking. Waits up to
    /// `presenceWaitMilliseconds` for another session to let the presence
    /// go (the server ends a killed engine's session a moment after its
    /// death, and a supervisor may restart it sooner), then throws
    /// `NodeInUse`: two engines under one name would take each other's
    /// leases for their own.
    public init(uri: String, node: String, presenceWaitMilliseconds: Int = 5000, notified: @escaping @Sendable () -> Void) throws {
        self.uri = uri
        self.node = node
        self.notified = notified
        let first = try PostgresConnection(uri)
        try first.execute("LISTEN \(Self.channel)")
        do {
            try first.execute("SET lock_timeout = \(max(1, presenceWaitMilliseconds))")
            try first.execute("SELECT pg_advisory_lock(\(Self.presenceKey("$1")))", [node])
            try first.execute("RESET lock_timeout")
        } catch {
            // 55P03: the wait ran out.
            if case .refused(sqlState: "55P03", _) = error { throw NodeInUse(node: node) }
            throw error
        }
        let handed = Mutex<PostgresConnection?>(first)
        _ = startThread(named: "pushdoc.listen") { [self] in run(from: handed.withLock { $0.take() }) }
    }

    /// SQL that is true while the engine named by the text expression
    /// `nodeSQL` holds its presence (its listener is connected).
    public static func presenceHeld(_ nodeSQL: String) -> String { "EXISTS (\(presenceHolder(nodeSQL)))" }

    /// SQL selecting the server process (`pid`) of the session that holds
    /// the presence of the engine named by `nodeSQL`, if any.
    public static func presenceHolder(_ nodeSQL: String) -> String {
        // pg_locks shows every database's locks; a bigint advisory key shows as its high half (classid) and low half (objid).
        """
        SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND (l.classid::int8 << 32 | l.objid::int8) = \(presenceKey(nodeSQL))
        """
    }

    private static func presenceKey(_ nodeSQL: String) -> String { "hashtextextended('node/' || \(nodeSQL), 0)" }

    /// Whether this session now holds the presence lock.
    private func takePresence(on connection: PostgresConnection) throws -> Bool {
        try connection.execute("SELECT pg_try_advisory_lock(\(Self.presenceKey("$1")))", [node]).rows.first?.first == "t"
    }

    /// Ends the listening thread (it returns within one wait).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
    }

    /// Listens on `handed` (which holds the presence), then on each new connection after one broke.
    private func run(from handed: PostgresConnection?) {
        var handed = handed
        var delay = 0.1
        while !stopped.load(ordering: .relaxed) {
            do {
                if let first = handed.take() {
                    try listen(on: first, holdingPresence: true)
                    continue
                }
                let connection = try PostgresConnection(uri)
                try connection.execute("LISTEN \(Self.channel)")
                let present = try takePresence(on: connection)
                delay = 0.1
                // Changes made while no connection listened are looked at now.
                notified()
                try listen(on: connection, holdingPresence: present)
            } catch {
                waitForStop(seconds: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Until the connection breaks (throws) or `stop`. Without the
    /// presence, asks for it again every second: the server ends a broken
    /// session of this engine's, which still holds it, only when it notices.
    private func listen(on connection: PostgresConnection, holdingPresence: Bool) throws {
        var present = holdingPresence
        var waits = [pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
        while !stopped.load(ordering: .relaxed) {
            let ready = poll(&waits, 2, present ? -1 : Self.presenceRetryMilliseconds)
            if ready < 0, errno == EINTR { continue }
            if waits[1].revents != 0 || ready < 0 { return }
            // Notifications that came during the lock's statement were read with its answer.
            if ready == 0 { present = try takePresence(on: connection) }
            if try connection.takeNotifications() > 0 { notified() }
        }
    }

    private func waitForStop(seconds: Double) {
        var wait = pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&wait, 1, Int32(seconds * 1000))
    }
}

/// Another engine on the database runs under this engine's node name.
public struct NodeInUse: Error, CustomStringConvertible {
    public let node: String
    public var description: String {
        "another engine on this database runs as node \(node): give each engine its own --node-id"
    }
}
