import CSQLite
import Dispatch

/// The engine's SQLite database: one writing connection and two reading
/// connections (one for the clients' calls, one for streams that replay the
/// event log), each owned by a serial dispatch queue so that SQLite's
/// blocking calls never run on Swift's cooperative threads. WAL lets reads
/// proceed while a write commits; `synchronous=FULL` makes a commit durable
/// before it is acknowledged.
public final class Database: Sendable {
    public let path: String
    /// How this start made sure the file is sound.
    public let integrityCheck: IntegrityCheck
    /// The file's fingerprint when the start found it sealed.
    private let fingerprintAtStart: FileFingerprint?
    private let writer: GroupCommitWriter
    private let reader: QueueOwnedConnection
    /// Event replays to subscribers: hundreds of them never queue ahead of a client's call.
    private let streamReader: QueueOwnedConnection

    /// How a start made sure the file is sound.
    public enum IntegrityCheck: String, Sendable {
        /// `PRAGMA quick_check` said "ok".
        case quickCheck = "PRAGMA quick_check"
        /// The file is byte for byte the one that passed it at the last clean stop (`seal`).
        case unchangedSinceSealed = "unchanged since it was checked"
    }

    /// Opens (creating if needed) the database, checks it, and applies the
    /// migrations it lacks. Blocking: call it at start-up, before serving.
    public init(path: String, migrations: [Migration]) throws {
        self.path = path
        // Read before SQLite opens the file: the data directory's lock keeps other writers out.
        fingerprintAtStart = DatabaseSeal(databasePath: path).unchangedFingerprint()
        let writing = try SQLiteConnection(path: path, readOnly: false)
        try writing.execute("PRAGMA busy_timeout = 5000")
        if fingerprintAtStart != nil {
            integrityCheck = .unchangedSinceSealed
        } else {
            try Self.checkIntegrity(writing)
            integrityCheck = .quickCheck
        }
        // temp_store: each body of a group runs in a savepoint whose undo
        // journal SQLite otherwise spills past 64 KB into a new file in
        // /var/tmp — a file created, written and deleted for one commit in two.
        try writing.execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY")
        try Migrator(migrations: migrations).migrate(writing)
        self.writer = GroupCommitWriter(writing, label: "pushdoc.store.writer")
        self.reader = try Self.openReader(path, label: "pushdoc.store.reader")
        self.streamReader = try Self.openReader(path, label: "pushdoc.store.stream-reader")
    }

    private static func openReader(_ path: String, label: String) throws -> QueueOwnedConnection {
        let reading = try SQLiteConnection(path: path, readOnly: true)
        try reading.execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON")
        return QueueOwnedConnection(reading, label: label)
    }

    /// Runs `body` atomically in a write transaction, committed durably
    /// before this returns (concurrent writes share one commit).
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await writer.write(body)
    }

    /// The same as `write`, from a thread that may block (a transfer thread
    /// recording what Inqom answered): it waits for the writer's commit.
    @discardableResult
    public func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) throws -> T {
        try writer.writeBlocking(body)
    }

    /// Runs `body` on the reading connection, in one read transaction (a
    /// consistent snapshot while writes go on).
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await Self.read(on: reader, body)
    }

    /// The same as `read`, on the connection kept for long streams.
    public func readForStream<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await Self.read(on: streamReader, body)
    }

    private static func read<T: Sendable>(
        on reader: QueueOwnedConnection, _ body: @escaping @Sendable (SQLiteConnection) throws -> T
    ) async throws -> T {
        try await reader.perform { connection in
            try connection.run("BEGIN")
            defer { _ = try? connection.run("COMMIT") }
            return try body(connection)
        }
    }

    /// At a clean stop, once nothing is written any more: folds the WAL into
    /// the file, checks the file (unless it is still the one found sealed at
    /// start), and records its fingerprint so that the next start, finding
    /// it unchanged, need not check it again (the fingerprint reads the file
    /// several times faster than `PRAGMA quick_check`). A write after this leaves
    /// WAL frames, and the next start checks. Says how the file was found sound.
    @discardableResult
    public func seal() async throws -> IntegrityCheck {
        let seal = DatabaseSeal(databasePath: path)
        let fingerprintAtStart = fingerprintAtStart
        return try await writer.alone { connection in
            var busy: Int64 = 1
            try connection.query("PRAGMA wal_checkpoint(TRUNCATE)") { busy = $0.int(0) }
            guard busy == 0 else { throw DatabaseSeal.Failure(description: "a reader kept the WAL from being checkpointed") }
            let fingerprint = try seal.currentFingerprint()
            let check: IntegrityCheck = fingerprint == fingerprintAtStart ? .unchangedSinceSealed : .quickCheck
            if check == .quickCheck { try Self.checkIntegrity(connection) }
            try seal.record(fingerprint)
            return check
        }
    }

    /// A fresh connection-level check: `PRAGMA quick_check` must say "ok". It reads every page,
    /// mapped rather than copied through the page cache.
    private static func checkIntegrity(_ connection: SQLiteConnection) throws {
        var findings: [String] = []
        try connection.execute("PRAGMA mmap_size = 268435456")
        defer { try? connection.execute("PRAGMA mmap_size = 0") }
        try connection.query("PRAGMA quick_check") { findings.append($0.text(0)) }
        guard findings == ["ok"] else {
            throw SQLiteError(code: SQLITE_CORRUPT, message: findings.prefix(3).joined(separator: "; "))
        }
    }
}

/// A connection and the serial queue that alone may touch it.
private final class QueueOwnedConnection: @unchecked Sendable {
    // @unchecked: `connection` is used only inside blocks run on `queue`.
    private let connection: SQLiteConnection
    private let queue: DispatchQueue

    init(_ connection: SQLiteConnection, label: String) {
        self.connection = connection
        self.queue = DispatchQueue(label: label)
    }

    func perform<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }
}
