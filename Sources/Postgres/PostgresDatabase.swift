import Dispatch
import Store
import Synchronization
import WorkerThreads

/// The engine's PostgreSQL database: a few connections, each owned by a
/// thread of its own (libpq blocks; Swift's cooperative threads never wait
/// on it). Every call is one transaction on whichever connection is free.
/// A connection that broke is opened again at the next call, no sooner
/// than its backoff allows (0.1 s doubling to 5 s), so that an unreachable
/// database is asked again within 5 s but never hammered.
public final class PostgresDatabase: Sendable {
    private let threads: WorkerThreads<PostgresSession>

    /// Connects, applies the migrations the database lacks (under an
    /// advisory lock, see `PostgresMigrator`) and, given the engine's master
    /// key, refuses (`MasterKeyMismatch`) one other than the key the
    /// database's secrets are sealed with. Blocking: at start-up.
    public init(uri: String, connections: Int, migrations: [Migration], masterKey: SecretBox? = nil) throws {
        let first = try PostgresConnection(uri)
        try PostgresMigrator(migrations).migrate(first)
        if let masterKey { try PostgresKeyCheck.verify(masterKey, on: first) }
        let opened = Mutex<PostgresConnection?>(first)
        threads = WorkerThreads(name: "pushdoc.postgres", count: connections) {
            // The first thread keeps the connection that migrated.
            PostgresSession(uri: uri, connection: opened.withLock { $0.take() })
        }
    }

    /// Released, it closes its connections once the calls under way end, on
    /// a thread of its own: whoever releases it never waits for them.
    deinit {
        let threads = threads
        if !startThread(named: "pushdoc.pg-stop", { threads.stop() }) { threads.stop(waitingUntil: .now()) }
    }

    /// Runs `body` in a transaction, committed before this returns.
    @discardableResult
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            threads.submit { session in continuation.resume(with: Result { try session.transaction(body) }) }
        }
    }

    /// The same, from a thread that may block (never one of the database's own).
    @discardableResult
    public func transactionBlocking<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        threads.submit { session in
            let result = Result { try session.transaction(body) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// One thread's connection, opened again after it broke.
final class PostgresSession {
    private let uri: String
    private var connection: PostgresConnection?
    private var backoff = Backoff()

    init(uri: String, connection: PostgresConnection?) {
        self.uri = uri
        self.connection = connection
    }

    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try begun()
        do {
            let value = try body(connection)
            try connection.commit()
            return value
        } catch PostgresError.unreachable(let detail) {
            self.connection = nil
            throw PostgresError.unreachable(detail: detail)
        } catch {
            try? connection.rollback()
            throw error
        }
    }

    /// A connection in a new transaction. One that broke since its last use
    /// (the server restarted) is found out here, before anything ran on it,
    /// and replaced at once.
    private func begun() throws(PostgresError) -> PostgresConnection {
        let connection = try connected()
        do {
            try connection.begin()
            return connection
        } catch .unreachable {
            self.connection = nil
            let again = try connected()
            try again.begin()
            return again
        }
    }

    private func connected() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isOpen { return connection }
        connection = nil
        try backoff.mayTry(at: .now())
        do {
            let opened = try PostgresConnection(uri)
            backoff = Backoff()
            connection = opened
            return opened
        } catch {
            backoff.failed(error, at: .now())
            throw error
        }
    }

    /// When a connection may be tried again after failures.
    struct Backoff {
        private var delay = 0.1
        private var next: DispatchTime?
        private var lastError: PostgresError?

        func mayTry(at now: DispatchTime) throws(PostgresError) {
            if let next, now < next, let lastError { throw lastError }
        }

        mutating func failed(_ error: PostgresError, at now: DispatchTime) {
            lastError = error
            next = now + delay
            delay = min(delay * 2, 5)
        }
    }
}
